import { readFileSync } from 'node:fs';
import path from 'node:path';
import { formatPath } from '../core/problems.ts';

/**
 * Secrets kept out of the configuration file: wherever a string goes, `{env: NAME}` takes it from an environment
 * variable and `{file: path}` from a file (a path relative to the configuration file; one trailing newline is
 * dropped, as `echo` and most secret stores write one). Resolved before validation, so the schema sees plain
 * strings and every rule (a secret's minimum length, a URL's scheme) applies to what the reference holds.
 *
 * Meant for jwtSecret, identifierHashKey, users' tokens, device secrets, webhook secrets, camera passwords, the
 * external broker's password and Redis URLs with a password in them; any string setting accepts it.
 */
export type SecretReference = { readonly env: string } | { readonly file: string };

export interface SecretSources {
  readonly env: NodeJS.ProcessEnv;
  /** Where relative file paths start: the configuration file's directory. */
  readonly baseDir: string;
}

function isReference(value: unknown): value is SecretReference {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  if (keys.length !== 1) return false;
  const [key] = keys;
  return (key === 'env' || key === 'file') && typeof (value as Record<string, unknown>)[key] === 'string';
}

/**
 * A copy of the raw configuration with every reference replaced by what it names. A variable that is not set (or
 * empty) or a file that cannot be read is a problem at its path, the reference then left out; nothing read is put
 * in a problem, only the variable's name or the file's path.
 */
export function resolveSecretReferences(
  raw: unknown,
  sources: SecretSources,
): {
  readonly config: unknown;
  readonly problems: readonly string[];
  readonly unresolved: ReadonlySet<string>;
} {
  const problems: string[] = [];
  const unresolved = new Set<string>();
  const visit = (value: unknown, at: PropertyKey[]): unknown => {
    if (isReference(value)) {
      const where = formatPath(at) || '(root)';
      const resolved = resolveOne(value, sources);
      if (typeof resolved === 'string') return resolved;
      problems.push(`${where}: ${resolved.problem}`);
      unresolved.add(where);
      return undefined;
    }
    if (Array.isArray(value)) return value.map((item, index) => visit(item, [...at, index]));
    if (typeof value === 'object' && value !== null) {
      return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, visit(item, [...at, key])]));
    }
    return value;
  };
  return { config: visit(raw, []), problems, unresolved };
}

function resolveOne(reference: SecretReference, sources: SecretSources): string | { problem: string } {
  if ('env' in reference) {
    const value = sources.env[reference.env];
    if (value === undefined || value === '') {
      return { problem: `environment variable ${reference.env} is not set` };
    }
    return value;
  }
  const file = path.resolve(sources.baseDir, reference.file);
  try {
    const text = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    return text === '' ? { problem: `secret file ${file} is empty` } : text;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    return { problem: `cannot read secret file ${file} (${code})` };
  }
}
