import { readFileSync } from 'node:fs';

/**
 * `tsx bench/top-functions.ts <file.cpuprofile> [n] [--inclusive]`: the functions with the most self time in a V8
 * CPU profile, or with `--inclusive` the most total time (self plus everything they called, each function counted
 * once per sample even when it recurses): what a path costs, not only its leaves.
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
const [file, count = '20'] = args.filter((arg) => !arg.startsWith('--'));
if (file === undefined) {
  process.stderr.write('usage: tsx bench/top-functions.ts <file.cpuprofile> [n] [--inclusive]\n');
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

const time = new Map<string, number>();
let total = 0;
profile.samples.forEach((id, index) => {
  const delta = profile.timeDeltas[index] ?? 0;
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
  `total ${(total / 1000).toFixed(0)} ms sampled (${inclusive ? 'inclusive' : 'self'} time)\n`,
);
for (const [key, micros] of rows) {
  process.stdout.write(
    `${((100 * micros) / total).toFixed(1).padStart(5)}%  ${(micros / 1000).toFixed(0).padStart(6)} ms  ${key}\n`,
  );
}
