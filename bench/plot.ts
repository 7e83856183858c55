/** A hand-written SVG of the rate sweep: throughput and latency (p50, p99) against offered rate, hub vs relay. */
export interface PlotRow {
  readonly target: 'hub' | 'relay';
  readonly rate: number;
  readonly throughput: number;
  readonly p50: number;
  readonly p99: number;
}

const width = 960;
const height = 400;
const panel = { w: 380, h: 280, top: 50 };
const colours = { hub: '#1f6feb', relay: '#8b949e' } as const;

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;');
}

function niceMax(value: number): number {
  if (!(value > 0)) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * magnitude >= value) return step * magnitude;
  return 10 * magnitude;
}

function axes(
  left: number,
  title: string,
  xMax: number,
  yMax: number,
  yLabel: string,
  logY: boolean,
): string[] {
  const out: string[] = [];
  const { w, h, top } = panel;
  out.push(
    `<text x="${left + w / 2}" y="${top - 18}" text-anchor="middle" font-weight="bold">${escapeXml(title)}</text>`,
  );
  out.push(`<line x1="${left}" y1="${top + h}" x2="${left + w}" y2="${top + h}" stroke="#333"/>`);
  out.push(`<line x1="${left}" y1="${top}" x2="${left}" y2="${top + h}" stroke="#333"/>`);
  for (let index = 0; index <= 4; index += 1) {
    const x = left + (w * index) / 4;
    out.push(
      `<text x="${x}" y="${top + h + 16}" text-anchor="middle" font-size="11">${Math.round((xMax * index) / 4)}</text>`,
    );
  }
  out.push(
    `<text x="${left + w / 2}" y="${top + h + 34}" text-anchor="middle" font-size="12">offered rate (events/s)</text>`,
  );
  const ticks = logY ? logTicks(yMax) : [0, 1, 2, 3, 4].map((index) => (yMax * index) / 4);
  for (const tick of ticks) {
    const y = top + h - yScale(tick, yMax, logY) * h;
    out.push(`<line x1="${left}" y1="${y}" x2="${left + w}" y2="${y}" stroke="#eee"/>`);
    out.push(
      `<text x="${left - 6}" y="${y + 4}" text-anchor="end" font-size="11">${tick >= 1 ? Math.round(tick) : tick}</text>`,
    );
  }
  out.push(
    `<text transform="translate(${left - 44},${top + h / 2}) rotate(-90)" text-anchor="middle" font-size="12">${escapeXml(yLabel)}</text>`,
  );
  return out;
}

function logTicks(max: number): number[] {
  const ticks: number[] = [];
  for (let value = 0.1; value <= max * 1.001; value *= 10) ticks.push(Number(value.toPrecision(1)));
  return ticks;
}

function yScale(value: number, max: number, logY: boolean): number {
  if (!logY) return Math.max(0, Math.min(1, value / max));
  const low = Math.log10(0.1);
  return Math.max(0, Math.min(1, (Math.log10(Math.max(value, 0.1)) - low) / (Math.log10(max) - low)));
}

function line(points: [number, number][], colour: string, dash: string): string {
  if (points.length === 0) return '';
  const path = points
    .map(([x, y], index) => `${index === 0 ? 'M' : 'L'}${x.toFixed(1)},${y.toFixed(1)}`)
    .join(' ');
  const dots = points
    .map(([x, y]) => `<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="3" fill="${colour}"/>`)
    .join('');
  return `<path d="${path}" fill="none" stroke="${colour}" stroke-width="2" stroke-dasharray="${dash}"/>${dots}`;
}

export function renderPlot(rows: readonly PlotRow[], subtitle: string): string {
  const xMax = niceMax(Math.max(...rows.map((row) => row.rate)));
  const tMax = niceMax(Math.max(xMax, ...rows.map((row) => row.throughput)));
  const lMax = niceMax(Math.max(1, ...rows.map((row) => row.p99).filter(Number.isFinite)));
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="${width / 2}" y="16" text-anchor="middle" font-size="13">${escapeXml(subtitle)}</text>`,
  ];
  const leftA = 70;
  const leftB = 560;
  out.push(...axes(leftA, 'Sustained QoS 1 ingest', xMax, tMax, 'PUBACKed events/s', false));
  out.push(...axes(leftB, 'Device → client latency', xMax, lMax, 'ms (log scale)', true));
  const x = (left: number, rate: number): number => left + (panel.w * rate) / xMax;
  const yT = (value: number): number => panel.top + panel.h - yScale(value, tMax, false) * panel.h;
  const yL = (value: number): number => panel.top + panel.h - yScale(value, lMax, true) * panel.h;
  out.push(
    line(
      [
        [x(leftA, 0), yT(0)],
        [x(leftA, xMax), yT(xMax)],
      ],
      '#ccc',
      '2 3',
    ),
  );
  for (const target of ['relay', 'hub'] as const) {
    const series = rows.filter((row) => row.target === target).sort((a, b) => a.rate - b.rate);
    const colour = colours[target];
    out.push(
      line(
        series.map((row) => [x(leftA, row.rate), yT(row.throughput)]),
        colour,
        '',
      ),
    );
    const p50 = series.filter((row) => Number.isFinite(row.p50));
    const p99 = series.filter((row) => Number.isFinite(row.p99));
    out.push(
      line(
        p50.map((row) => [x(leftB, row.rate), yL(row.p50)]),
        colour,
        '5 3',
      ),
    );
    out.push(
      line(
        p99.map((row) => [x(leftB, row.rate), yL(row.p99)]),
        colour,
        '',
      ),
    );
  }
  const legend: [string, string, string][] = [
    ['gridhub', colours.hub, ''],
    ['relay ceiling', colours.relay, ''],
    ['p99 (solid) / p50 (dashed)', '#333', '5 3'],
    ['offered = ingested', '#ccc', '2 3'],
  ];
  legend.forEach(([label, colour, dash], index) => {
    const lx = 80 + index * 220;
    out.push(
      `<line x1="${lx}" y1="${height - 14}" x2="${lx + 24}" y2="${height - 14}" stroke="${colour}" stroke-width="2" stroke-dasharray="${dash}"/>`,
    );
    out.push(`<text x="${lx + 30}" y="${height - 10}">${escapeXml(label)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
