import type { z } from 'zod';

/** A path as operators read it: `devices[0].location`, `body.id`, or the root's own name. */
export function formatPath(segments: readonly PropertyKey[], root = ''): string {
  return segments.reduce<string>((text, segment) => {
    if (typeof segment === 'number') return `${text}[${segment}]`;
    return text === '' ? String(segment) : `${text}.${String(segment)}`;
  }, root);
}

/**
 * Every zod issue as one `path: message` line: the one format of problems in config errors, dead letters, API
 * errors and command refusals. zod's messages name what was expected, never the value received.
 */
export function zodProblems(error: z.ZodError, root = ''): string[] {
  return error.issues.map((issue) => `${formatPath(issue.path, root) || '(root)'}: ${issue.message}`);
}
