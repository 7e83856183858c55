/** The options of every tool that calls the hub (parseArgs): where it is, and whose token to call it with. */
export const hubConnectionOptions = {
  url: { type: 'string', default: process.env.GRIDHUB_URL ?? 'http://127.0.0.1:8080' },
  token: { type: 'string', default: process.env.GRIDHUB_TOKEN },
} as const;

/** How a command-line tool says it failed: a line on stderr, and its exit code. */
export type Fail = (message: string, code?: number) => never;

/**
 * One call of the running hub's REST API for a command-line tool (`npm run devices`, `npm run users`): the JSON
 * answer, or the tool's `fail` with the answer's status, message and every problem, exit code 1.
 */
export async function callHub(
  fail: Fail,
  url: string,
  token: string | undefined,
  method: string,
  path: string,
  body?: unknown,
): Promise<unknown> {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: {
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const answer = (await response.json()) as { error?: { message: string; problems?: string[] } };
  if (!response.ok) {
    const problems = answer.error?.problems?.map((problem) => `\n  - ${problem}`).join('') ?? '';
    fail(`${response.status} ${answer.error?.message ?? response.statusText}${problems}`, 1);
  }
  return answer;
}
