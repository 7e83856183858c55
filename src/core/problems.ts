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

/** The longest key a dead letter shows as it is (see minimiseKey). */
const MAX_KEY_LENGTH = 64;
/** Unknown keys a problem names; the rest are counted. */
const MAX_KEYS_NAMED = 5;
/** Problems a dead letter keeps; the rest are counted. */
const MAX_PROBLEMS = 16;
/** The longest problem text a dead letter keeps. */
const MAX_PROBLEM_LENGTH = 200;

/**
 * A key of a device's payload as a dead letter may show it. Keys are kept, since a misspelt field name is what an
 * integrator most needs to see, unless a key could itself be an identifier (devices do key objects by card number
 * or plate): a run of five or more digits, or a key too long to be a field name, is replaced by a description.
 */
export function minimiseKey(key: string): string {
  if (key.length > MAX_KEY_LENGTH || /\d{5,}/.test(key)) return `<key of ${key.length} characters>`;
  return key;
}

/** Text a device's input may have put in (a decoder's error): identifier-like digit runs hidden, length bounded. */
export function minimiseText(text: string): string {
  return truncate(text.replace(/\d{5,}/g, (digits) => `<${digits.length} digits>`));
}

function truncate(text: string): string {
  return text.length <= MAX_PROBLEM_LENGTH ? text : `${text.slice(0, MAX_PROBLEM_LENGTH - 1)}…`;
}

/**
 * zodProblems for a device's payload, minimised as its dead letter's shape is (see payloadShape): keys in paths
 * and unknown keys through minimiseKey, unknown keys named up to a few and counted beyond, each problem and their
 * number bounded. zod's messages name what was expected, never a value; only unknown keys are the input's own.
 */
export function minimisedProblems(error: z.ZodError): string[] {
  const problems = error.issues.slice(0, MAX_PROBLEMS).map((issue) => {
    const at = formatPath(
      issue.path.map((segment) => (typeof segment === 'string' ? minimiseKey(segment) : segment)),
    );
    let message = issue.message;
    if (issue.code === 'unrecognized_keys') {
      const named = issue.keys.slice(0, MAX_KEYS_NAMED).map((key) => `"${minimiseKey(key)}"`);
      const more = issue.keys.length - named.length;
      message = `Unrecognized key${issue.keys.length === 1 ? '' : 's'}: ${named.join(', ')}${more > 0 ? ` and ${more} more` : ''}`;
    }
    return truncate(`${at || '(root)'}: ${message}`);
  });
  const more = error.issues.length - MAX_PROBLEMS;
  return more > 0 ? [...problems, `…and ${more} more problems`] : problems;
}
