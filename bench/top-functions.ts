import { readFileSync } from 'node:fs';

/**
 * `tsx bench/top-functions.ts <file.cpuprofile> [n] [--inclusive | --by-part | --long-tasks]`: the functions with
 * the most self time in a V8 CPU profile, or with `--inclusive` the most total time (self plus everything they
 * called, each function counted once per sample even when it recurses): what a path costs, not only its leaves.
 * `--by-part` charges each busy sample to the part of the process it is in (the innermost library frame on its
 * stack, else the innermost project file; socket writes and the collector apart), in % of the busy time, idle left
 * out: where the event loop's time goes. `--long-tasks` lists the n longest stretches the event loop was busy
 * without a break. `--from=S` and `--to=S` keep the samples of that stretch of the profile (seconds from its start):
 * the steady state without the start-up, or one phase of a run.
 */
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const args = process.argv.slice(2);
const inclusive = args.includes('--inclusive');
const byPart = args.includes('--by-part');
/** `--from=S`, `--to=S`: only the samples taken S seconds or more (less) after the profile started. */
const secondsArg = (name: string, otherwise: number): number => {
  const value = Number(args.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3));
  return Number.isFinite(value) ? value * 1e6 : otherwise;
};
const fromMicros = secondsArg('from', 0);
const toMicros = secondsArg('to', Number.POSITIVE_INFINITY);
const [file, count = '20'] = args.filter((arg) => !arg.startsWith('--'));
if (file === undefined) {
  process.stderr.write(
    'usage: tsx bench/top-functions.ts <file.cpuprofile> [n] [--inclusive | --by-part | --long-tasks] [--from=S] [--to=S]\n',
  );
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const parentOf = new Map<number, number>();
for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);

function keyOf(node: ProfileNode): string {
  const frame = node.callFrame;
  const where = frame.url
    .replace(/^.*node_modules\//, '')
    .replace(/^file:\/\/.*?\/(src|bench|devices)\//, '$1/');
  return `${frame.functionName || '(anonymous)'}  ${where}:${frame.lineNumber + 1}`;
}

/** The parts of the process a busy sample can be charged to, first match from the innermost frame outwards. */
const parts: [RegExp, string][] = [
  [/node_modules\/(lmdb|msgpackr|ordered-binary)\//, 'store: lmdb-js, msgpackr'],
  [/node_modules\/zod\//, 'validation: zod'],
  [/node_modules\/(socket\.io[^/]*|engine\.io[^/]*|ws)\//, 'pushes: socket.io, engine.io, ws'],
  [
    /node_modules\/(aedes[^/]*|mqtt-packet|mqemitter[^/]*|qlobber|fastfall|fastseries|reusify)\//,
    'broker: aedes, mqtt-packet',
  ],
  [/node_modules\/(pino[^/]*|sonic-boom|prom-client|debug)\//, 'logging and metrics'],
  [/node_modules\/tsx\/|node:internal\/modules\//, 'start-up: module loading'],
];

function partOf(leafId: number): string | undefined {
  const leaf = byId.get(leafId);
  if (leaf === undefined) return undefined;
  const name = leaf.callFrame.functionName;
  if (name === '(idle)') return undefined;
  if (name === '(garbage collector)' || name === '(program)') return name;
  if (name === 'writev' || name === 'writeUtf8String' || name === 'writeBuffer')
    return 'socket writes (system calls)';
  for (let at: number | undefined = leafId; at !== undefined; at = parentOf.get(at)) {
    const url = byId.get(at)?.callFrame.url ?? '';
    for (const [pattern, part] of parts) if (pattern.test(url)) return part;
    const own = /\/((src|devices)\/.*)$/.exec(url);
    if (own !== null) return `own: ${own[1]}`;
  }
  return `other: ${name || '(anonymous)'}`;
}

/**
 * The outermost frames of a sample below the root, e.g. `processTimers > listOnTimeout > (anonymous) src/…`: what
 * kind of event-loop callback the sample ran in.
 */
function entryOf(leafId: number, depth = 3): string {
  const chain: string[] = [];
  for (let at: number | undefined = leafId; at !== undefined; at = parentOf.get(at)) {
    const node = byId.get(at);
    if (node === undefined || node.callFrame.functionName === '(root)') break;
    chain.unshift(keyOf(node));
  }
  return chain.slice(0, depth).join(' > ');
}

/**
 * `--long-tasks`: the longest stretches of consecutive busy samples (no idle sample between them), i.e. what
 * held the event loop longest, each with its busiest parts and the callbacks it ran in. A latency spike is one of
 * these, where the average cost per event says nothing of it.
 */
function longTasks(count: number): void {
  interface Task {
    start: number;
    duration: number;
    parts: Map<string, number>;
    entries: Map<string, number>;
  }
  const tasks: Task[] = [];
  let current: Task | undefined;
  let clock = 0;
  profile.samples.forEach((id, index) => {
    // A sample stands for the time until the next one (timeDeltas[i] is the time since the previous): a stretch
    // then ends with its last busy sample, and a stall of the sampler before a sample is not charged to it.
    const delta = profile.timeDeltas[index + 1] ?? 0;
    clock += profile.timeDeltas[index] ?? 0;
    if (clock < fromMicros || clock > toMicros) return;
    const part = partOf(id);
    if (part === undefined) {
      if (current !== undefined) tasks.push(current);
      current = undefined;
      return;
    }
    current ??= { start: clock, duration: 0, parts: new Map(), entries: new Map() };
    current.duration += delta;
    current.parts.set(part, (current.parts.get(part) ?? 0) + delta);
    const entry = entryOf(id);
    current.entries.set(entry, (current.entries.get(entry) ?? 0) + delta);
  });
  if (current !== undefined) tasks.push(current);
  const top = (map: Map<string, number>, n: number): string =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([key, micros]) => `${(micros / 1000).toFixed(1)} ms ${key}`)
      .join('\n      ');
  const busy = tasks.reduce((sum, task) => sum + task.duration, 0);
  process.stdout.write(
    `${tasks.length} busy stretches, ${(busy / 1000).toFixed(0)} ms busy in ${(clock / 1000).toFixed(0)} ms sampled\n`,
  );
  for (const task of tasks.sort((a, b) => b.duration - a.duration).slice(0, count)) {
    process.stdout.write(
      `${(task.duration / 1000).toFixed(1).padStart(6)} ms at ${(task.start / 1e6).toFixed(2)} s\n` +
        `    parts:   ${top(task.parts, 4)}\n    entries: ${top(task.entries, 3)}\n`,
    );
  }
}
if (args.includes('--long-tasks')) {
  longTasks(Number(count));
  process.exit(0);
}

const time = new Map<string, number>();
let total = 0;
let sampledAt = 0;
profile.samples.forEach((id, index) => {
  const delta = profile.timeDeltas[index] ?? 0;
  sampledAt += delta;
  if (sampledAt < fromMicros || sampledAt > toMicros) return;
  if (byPart) {
    const part = partOf(id);
    if (part === undefined) return;
    total += delta;
    time.set(part, (time.get(part) ?? 0) + delta);
    return;
  }
  total += delta;
  const node = byId.get(id);
  if (node === undefined) return;
  if (!inclusive) {
    const key = keyOf(node);
    time.set(key, (time.get(key) ?? 0) + delta);
    return;
  }
  const seen = new Set<string>();
  for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) {
    const stacked = byId.get(at);
    if (stacked === undefined) break;
    const key = keyOf(stacked);
    if (seen.has(key)) continue;
    seen.add(key);
    time.set(key, (time.get(key) ?? 0) + delta);
  }
});
const rows = [...time.entries()].sort((a, b) => b[1] - a[1]).slice(0, Number(count));
process.stdout.write(
  `total ${(total / 1000).toFixed(0)} ms sampled (${byPart ? 'busy time, by part' : inclusive ? 'inclusive time' : 'self time'})\n`,
);
for (const [key, micros] of rows) {
  process.stdout.write(
    `${((100 * micros) / total).toFixed(1).padStart(5)}%  ${(micros / 1000).toFixed(0).padStart(6)} ms  ${key}\n`,
  );
}
