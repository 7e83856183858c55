import { readFileSync } from 'node:fs';

/**
 * `tsx bench/top-allocations.ts <file.heapprofile> [n] [--by-part]`: the functions that allocated the most in a
 * sampling heap profile (bench/hub-process.ts with BENCH_ALLOC_PROFILE=1, which keeps the samples of objects already
 * collected): what the hub's thread allocates, and so what its collector has to sweep. `--by-part` sums by library
 * or project file instead.
 */
interface AllocationNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: AllocationNode[];
}

const args = process.argv.slice(2);
const byPart = args.includes('--by-part');
const [file, count = '25'] = args.filter((arg) => !arg.startsWith('--'));
if (file === undefined) {
  process.stderr.write('usage: tsx bench/top-allocations.ts <file.heapprofile> [n] [--by-part]\n');
  process.exit(2);
}
const { head } = JSON.parse(readFileSync(file, 'utf8')) as { head: AllocationNode };

function placeOf(url: string): string {
  const library = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1];
  if (library !== undefined) return library;
  return url.replace(/^file:\/\/.*?\/(src|bench|devices)\//, '$1/') || '(native)';
}

const totals = new Map<string, number>();
let all = 0;
const walk = (node: AllocationNode, ownerPart: string | undefined): void => {
  const frame = node.callFrame;
  const place = placeOf(frame.url);
  // A library's allocation is charged to the library; the project's own to its file.
  const part = frame.url === '' ? ownerPart : place;
  const key = byPart
    ? (part ?? '(native)')
    : `${frame.functionName || '(anonymous)'}  ${place}:${frame.lineNumber + 1}`;
  totals.set(key, (totals.get(key) ?? 0) + node.selfSize);
  all += node.selfSize;
  for (const child of node.children) walk(child, part);
};
walk(head, undefined);

const rows = [...totals].sort((a, b) => b[1] - a[1]).slice(0, Number(count));
process.stdout.write(`${(all / 2 ** 20).toFixed(1)} MB sampled in all\n`);
for (const [key, bytes] of rows) {
  process.stdout.write(
    `${((100 * bytes) / all).toFixed(1).padStart(5)} %  ${(bytes / 2 ** 20).toFixed(1).padStart(7)} MB  ${key}\n`,
  );
}
