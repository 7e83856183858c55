import { readFileSync } from 'node:fs';

/** `tsx bench/top-functions.ts <file.cpuprofile> [n]`: the functions with the most self time in a V8 CPU profile. */
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const [file, count = '20'] = process.argv.slice(2);
if (file === undefined) {
  process.stderr.write('usage: tsx bench/top-functions.ts <file.cpuprofile> [n]\n');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const self = new Map<string, number>();
let total = 0;
profile.samples.forEach((id, index) => {
  const delta = profile.timeDeltas[index] ?? 0;
  total += delta;
  const frame = byId.get(id)?.callFrame;
  if (frame === undefined) return;
  const where = frame.url
    .replace(/^.*node_modules\//, '')
    .replace(/^file:\/\/.*?\/(src|bench|devices)\//, '$1/');
  const key = `${frame.functionName || '(anonymous)'}  ${where}:${frame.lineNumber + 1}`;
  self.set(key, (self.get(key) ?? 0) + delta);
});
const rows = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, Number(count));
process.stdout.write(`total ${(total / 1000).toFixed(0)} ms sampled\n`);
for (const [key, micros] of rows) {
  process.stdout.write(
    `${((100 * micros) / total).toFixed(1).padStart(5)}%  ${(micros / 1000).toFixed(0).padStart(6)} ms  ${key}\n`,
  );
}
