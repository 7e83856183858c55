import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The walls between the layers, read from the import statements themselves (type-only imports included: a type
 * import is still a dependency of the reader's understanding). Paths are relative to the repository's root.
 */
const root = fileURLToPath(new URL('../../', import.meta.url));

function sourceFiles(folder: string): string[] {
  return readdirSync(path.join(root, folder), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts'))
    .map((entry) =>
      path.posix.join(path.relative(root, entry.parentPath).split(path.sep).join('/'), entry.name),
    );
}

/** `import … from './x.ts'`, `export … from './x.ts'` and `import('./x.ts')`: every relative specifier. */
const relativeImport = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+'(\.[^']+)'|import\(\s*'(\.[^']+)'\s*\)/g;

const graph = new Map<string, string[]>();
for (const file of ['src', 'devices', 'simulators'].flatMap(sourceFiles)) {
  const text = readFileSync(path.join(root, file), 'utf8');
  const targets = [...text.matchAll(relativeImport)].map((match) =>
    path.posix.normalize(path.posix.join(path.posix.dirname(file), (match[1] ?? match[2]) as string)),
  );
  graph.set(file, [...new Set(targets)]);
}

/** Every import cycle, each as the files around it (`a → b → a`), found by depth-first search. */
function cycles(): string[] {
  const found: string[] = [];
  const done = new Set<string>();
  const visit = (file: string, trail: string[]): void => {
    const at = trail.indexOf(file);
    if (at >= 0) {
      found.push([...trail.slice(at), file].join(' → '));
      return;
    }
    if (done.has(file) || !graph.has(file)) return;
    for (const target of graph.get(file) ?? []) visit(target, [...trail, file]);
    done.add(file);
  };
  for (const file of graph.keys()) visit(file, []);
  return found;
}

/** The imports of files under `from` that land outside what `allowed` lets them reach. */
function breaches(from: (file: string) => boolean, allowed: (target: string) => boolean): string[] {
  return [...graph]
    .filter(([file]) => from(file))
    .flatMap(([file, targets]) =>
      targets.filter((target) => !allowed(target)).map((target) => `${file} → ${target}`),
    );
}

const under =
  (...folders: string[]) =>
  (file: string): boolean =>
    folders.some((folder) => file.startsWith(`${folder}/`));

describe('the walls between the layers', () => {
  it('finds the files it reads walls in', () => {
    expect(graph.has('src/core/incident.ts')).toBe(true);
    expect(graph.get('src/store/store.ts')).toContain('src/core/incident.ts');
  });

  it('has no import cycle', () => {
    expect(cycles()).toEqual([]);
  });

  it('keeps core free of anything else of the hub', () => {
    expect(breaches(under('src/core'), under('src/core'))).toEqual([]);
  });

  it('lets adapters import only core', () => {
    expect(breaches(under('devices'), under('devices', 'src/core'))).toEqual([]);
  });

  it('keeps simulators apart from adapters and the hub, so an adapter is never tested against itself', () => {
    // simulators/demo.ts is the launcher of `npm run demo`: it starts a hub beside the simulators.
    const simulator = (file: string): boolean =>
      file.startsWith('simulators/') && file !== 'simulators/demo.ts';
    expect(breaches(simulator, under('simulators'))).toEqual([]);
  });

  it('keeps the store below the services: it imports only core and observability', () => {
    expect(breaches(under('src/store'), under('src/core', 'src/store', 'src/observability'))).toEqual([]);
  });

  it('leaves the file to the composition: no service imports config/, not even a type', () => {
    // config/ validates the file and resolves it into a Deployment of domain types (core/, or the module that owns
    // a setting); the composition hands each service its part. Everything in src/ else is a service.
    const composition = ['src/hub.ts', 'src/sharing.ts', 'src/main.ts'];
    const service = (file: string): boolean =>
      file.startsWith('src/') && !under('src/config', 'src/cli')(file) && !composition.includes(file);
    expect([...graph.keys()].filter(service)).toContain('src/incidents/router.ts');
    expect(breaches(service, (target) => !under('src/config')(target))).toEqual([]);
  });
});
