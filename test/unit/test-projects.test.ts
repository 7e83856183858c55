import { globSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import config from '../../vitest.config.ts';
import { projectRoot } from '../helpers/hub.ts';

/** Each project's name and the files it includes, as vitest.config.ts declares them. */
function projects(): { name: string; include: string[] }[] {
  return (config.test?.projects ?? []).map((project) => {
    const { test } = project as { test?: { name?: unknown; include?: string[] } };
    return { name: String(test?.name), include: test?.include ?? [] };
  });
}

describe('the test projects', () => {
  // `npm test` runs the projects, not a glob of its own: a test file no project includes would never run.
  it('include every test file, each in one project only', () => {
    const files = globSync('test/**/*.test.ts', { cwd: projectRoot });
    expect(files.length).toBeGreaterThan(50);
    const homes = files.map((file) => {
      const posix = file.split(path.sep).join('/');
      const owners = projects()
        .filter((project) => project.include.some((pattern) => path.matchesGlob(posix, pattern)))
        .map((project) => project.name);
      return { file: posix, owners };
    });
    expect(homes.filter(({ owners }) => owners.length !== 1)).toEqual([]);
  });

  it('each have the npm script that runs them alone', async () => {
    const { scripts } = (await import('../../package.json', { with: { type: 'json' } })).default as {
      scripts: Record<string, string>;
    };
    for (const { name } of projects()) expect(scripts[`test:${name}`]).toBe(`vitest run --project ${name}`);
    expect(scripts.test).toBe('vitest run');
  });
});
