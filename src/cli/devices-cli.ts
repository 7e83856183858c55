import { parseArgs } from 'node:util';
import { callHub, hubConnectionOptions } from './hub-client.ts';

/**
 * `npm run devices -- <action> …`: provisioning from the command line, through the running hub's API, so the hub
 * stays the one place that changes its registry (and audits it). The token is an integrator's or admin's.
 */
const usage = `Usage: npm run devices -- <action> [options]

  list                                   devices in your scope, with online status
  add <id> --name N --adapter A (--grid G | --location LON,LAT) [--offline-after SECONDS]
                                         provision a device; prints its secret once
  rotate <id>                            give a device a new secret (its session is closed); prints it once
  disable <id> | enable <id>             refuse or allow the device's connections
  command <id> <command> [--params JSON] send a command and print the device's answer

Options:
  --url URL      the hub (default $GRIDHUB_URL or http://127.0.0.1:8080)
  --token T      an integrator's or admin's token (default $GRIDHUB_TOKEN)
`;

function fail(message: string, code = 2): never {
  process.stderr.write(`devices: ${message}\n${code === 2 ? `\n${usage}` : ''}`);
  process.exit(code);
}

/** The hub's REST API, failing as this tool fails. */
function call(url: string, token: string, method: string, path: string, body?: unknown): Promise<unknown> {
  return callHub(fail, url, token, method, path, body);
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      ...hubConnectionOptions,
      name: { type: 'string' },
      adapter: { type: 'string' },
      grid: { type: 'string' },
      location: { type: 'string' },
      'offline-after': { type: 'string' },
      params: { type: 'string', default: '{}' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return void process.stdout.write(usage);
  const [action, id, command] = positionals;
  const token = values.token ?? fail('give --token or set GRIDHUB_TOKEN');
  const { url } = values;
  const print = (value: unknown): void => void process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);

  const actions: Record<string, () => Promise<void>> = {
    list: async () => {
      const { devices } = (await call(url, token, 'GET', '/api/devices')) as {
        devices: {
          id: string;
          adapter: string;
          gridId: string;
          status: { online: boolean; disabled: boolean };
        }[];
      };
      for (const device of devices) {
        const state = device.status.disabled ? 'disabled' : device.status.online ? 'online' : 'offline';
        process.stdout.write(
          `${device.id.padEnd(32)} ${device.adapter.padEnd(12)} ${device.gridId.padEnd(20)} ${state}\n`,
        );
      }
    },
    add: async () => {
      if (id === undefined || values.name === undefined || values.adapter === undefined)
        fail('add needs <id>, --name and --adapter');
      const location = values.location?.split(',').map(Number);
      print(
        await call(url, token, 'POST', '/api/devices', {
          id,
          name: values.name,
          adapter: values.adapter,
          ...(values.grid === undefined ? {} : { grid: values.grid }),
          ...(location === undefined ? {} : { location }),
          ...(values['offline-after'] === undefined
            ? {}
            : { offlineAfterSeconds: Number(values['offline-after']) }),
        }),
      );
    },
    rotate: async () =>
      print(
        await call(
          url,
          token,
          'POST',
          `/api/devices/${encodeURIComponent(id ?? fail('rotate needs <id>'))}/rotate`,
        ),
      ),
    disable: async () =>
      print(
        await call(
          url,
          token,
          'POST',
          `/api/devices/${encodeURIComponent(id ?? fail('disable needs <id>'))}/disable`,
        ),
      ),
    enable: async () =>
      print(
        await call(
          url,
          token,
          'POST',
          `/api/devices/${encodeURIComponent(id ?? fail('enable needs <id>'))}/enable`,
        ),
      ),
    command: async () => {
      if (id === undefined || command === undefined) fail('command needs <id> and <command>');
      let params: unknown;
      try {
        params = JSON.parse(values.params);
      } catch {
        fail('--params must be JSON');
      }
      print(
        await call(
          url,
          token,
          'POST',
          `/api/devices/${encodeURIComponent(id)}/commands/${encodeURIComponent(command)}`,
          { params },
        ),
      );
    },
  };
  const run = actions[action ?? ''] ?? fail(`unknown action "${action ?? ''}"`);
  await run();
}

main().catch((error: unknown) => fail((error as Error).message, 1));
