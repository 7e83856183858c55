import { parseArgs } from 'node:util';
import { discoverCameras } from '../cameras/sessions/onvif-discovery.ts';

/** `npm run cameras -- discover [--interface eth0] [--timeout 3000]`: find ONVIF cameras on the local network. */
const usage = `Usage: npm run cameras -- discover [--interface NAME] [--timeout MS]

Sends a WS-Discovery probe and lists the ONVIF cameras that answer, with the xaddr to put in a camera's
onvif.xaddr in the config.
`;

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      interface: { type: 'string' },
      timeout: { type: 'string', default: '3000' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return void process.stdout.write(usage);
  const timeoutMs = Number(values.timeout);
  if (positionals[0] !== 'discover' || !(timeoutMs >= 200 && timeoutMs <= 60_000)) {
    process.stderr.write(usage);
    process.exit(2);
  }
  const cameras = await discoverCameras({
    timeoutMs,
    ...(values.interface === undefined ? {} : { networkInterface: values.interface }),
  });
  for (const camera of cameras) {
    const name = camera.scopes.find((scope) => scope.includes('/name/'))?.split('/name/')[1] ?? '';
    process.stdout.write(`${camera.xaddrs[0]}  ${decodeURIComponent(name)}  ${camera.endpointReference}\n`);
  }
  process.stdout.write(`cameras: ${cameras.length} found\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`cameras: ${(error as Error).message}\n`);
  process.exit(1);
});
