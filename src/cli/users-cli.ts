import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { hashPassword, passwordBounds } from '../auth/passwords.ts';
import { callHub, hubConnectionOptions } from './hub-client.ts';

/**
 * `npm run users -- <action> …`: people's accounts from the command line, through the running hub's API, so the hub
 * stays the one place that changes them (and ends the sessions a change must end). Passwords never go on the
 * command line (shell history, `ps`): they are read from stdin, or made here and printed once.
 */
const usage = `Usage: npm run users -- <action> [options]

  list                                   accounts inside your scope
  add <id> --name N --role R (--scope NODE | --grids G1,G2)
                                         make an account; prints its first password once
  disable <id> | enable <id>             refuse or allow its logins (disabling ends its sessions)
  reset-password <id>                    set a new password (its sessions end); prints it once
  remove <id>                            remove the account (its sessions end)
  passwd                                 change your own password: stdin gives the old one, then the new one
  hash                                   print the scrypt hash of the password on stdin, for a config's
                                         passwordHash (needs no hub)

Options:
  --password-stdin   add, reset-password: read the password from stdin instead of making one
  --url URL          the hub (default $GRIDHUB_URL or http://127.0.0.1:8080)
  --token T          an admin's API token or session JWT (default $GRIDHUB_TOKEN)
  --user U           log in as U instead, the password from $GRIDHUB_PASSWORD
`;

function fail(message: string, code = 2): never {
  process.stderr.write(`users: ${message}\n${code === 2 ? `\n${usage}` : ''}`);
  process.exit(code);
}

/** The hub's REST API, failing as this tool fails. */
function call(
  url: string,
  token: string | undefined,
  method: string,
  path: string,
  body?: unknown,
): Promise<unknown> {
  return callHub(fail, url, token, method, path, body);
}

/** The lines given on stdin (a pipe or a terminal), without their line ends. */
async function stdinLines(): Promise<string[]> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').split(/\r?\n/);
}

/** A password made here: 18 random bytes, 24 characters of base64url. */
function madePassword(): string {
  return randomBytes(18).toString('base64url');
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      ...hubConnectionOptions,
      user: { type: 'string' },
      name: { type: 'string' },
      role: { type: 'string' },
      scope: { type: 'string' },
      grids: { type: 'string' },
      'password-stdin': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return void process.stdout.write(usage);
  const [action, id] = positionals;
  const { url } = values;
  const print = (value: unknown): void => void process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  const checked = (password: string | undefined): string => {
    if (
      password === undefined ||
      password.length < passwordBounds.min ||
      password.length > passwordBounds.max
    )
      fail(`a password has ${passwordBounds.min} to ${passwordBounds.max} characters`, 1);
    return password;
  };
  /** The password to set: stdin's first line, or one made here (printed once by the caller). */
  const newPassword = async (): Promise<{ password: string; made: boolean }> =>
    values['password-stdin']
      ? { password: checked((await stdinLines())[0]), made: false }
      : { password: madePassword(), made: true };

  if (action === 'hash') {
    process.stdout.write(`${await hashPassword(checked((await stdinLines())[0]))}\n`);
    return;
  }

  let token = values.token;
  if (values.user !== undefined) {
    const password = process.env.GRIDHUB_PASSWORD ?? fail('--user needs the password in GRIDHUB_PASSWORD');
    ({ token } = (await call(url, undefined, 'POST', '/api/auth/login', {
      username: values.user,
      password,
    })) as { token: string });
  }
  if (token === undefined) fail('give --token, --user, or set GRIDHUB_TOKEN');
  const account = (verb: string) => `/api/accounts/${encodeURIComponent(id ?? fail(`${verb} needs <id>`))}`;

  const actions: Record<string, () => Promise<void>> = {
    list: async () => {
      const { accounts } = (await call(url, token, 'GET', '/api/accounts')) as {
        accounts: {
          id: string;
          role: string;
          scope: string | null;
          grids: string[] | null;
          disabled: boolean;
        }[];
      };
      for (const found of accounts) {
        const where = found.scope ?? found.grids?.join(',') ?? '';
        process.stdout.write(
          `${found.id.padEnd(32)} ${found.role.padEnd(14)} ${where.padEnd(30)} ${found.disabled ? 'disabled' : 'enabled'}\n`,
        );
      }
    },
    add: async () => {
      if (id === undefined || values.name === undefined || values.role === undefined)
        fail('add needs <id>, --name and --role');
      const { password, made } = await newPassword();
      print(
        await call(url, token, 'POST', '/api/accounts', {
          id,
          name: values.name,
          role: values.role,
          ...(values.scope === undefined ? {} : { scope: values.scope }),
          ...(values.grids === undefined ? {} : { grids: values.grids.split(',') }),
          password,
        }),
      );
      if (made) process.stdout.write(`password (shown once): ${password}\n`);
    },
    disable: async () => print(await call(url, token, 'POST', `${account('disable')}/disable`)),
    enable: async () => print(await call(url, token, 'POST', `${account('enable')}/enable`)),
    'reset-password': async () => {
      const path = `${account('reset-password')}/password`;
      const { password, made } = await newPassword();
      print(await call(url, token, 'POST', path, { password }));
      if (made) process.stdout.write(`password (shown once): ${password}\n`);
    },
    remove: async () => print(await call(url, token, 'DELETE', account('remove'))),
    passwd: async () => {
      const [oldPassword, changed] = await stdinLines();
      if (oldPassword === undefined || oldPassword.length === 0)
        fail('stdin gives the old password first', 1);
      print(
        await call(url, token, 'POST', '/api/auth/password', { oldPassword, newPassword: checked(changed) }),
      );
    },
  };
  const run = actions[action ?? ''] ?? fail(`unknown action "${action ?? ''}"`);
  await run();
}

main().catch((error: unknown) => fail((error as Error).message, 1));
