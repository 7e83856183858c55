import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parse } from 'yaml';
import { type ConfigGb, gbDevicesOfConfig } from './config-devices.ts';
import { type AlarmOptions, GbDevice, type GbDeviceOptions } from './device.ts';
import { GbSuperior } from './superior.ts';

/** The alarms the CLI raises, by name: (AlarmMethod, Info/AlarmType) pairs from GB/T 28181-2016 §A.2.1. */
export const alarmKinds: Readonly<Record<string, (device: GbDevice) => AlarmOptions>> = {
  motion: () => ({ method: 5, type: 2, priority: 3, description: '运动目标检测' }),
  intrusion: () => ({ method: 5, type: 6, priority: 2, description: '区域入侵', eventType: 1 }),
  tripwire: () => ({ method: 5, type: 5, priority: 2, description: '绊线检测', eventType: 1 }),
  'video-lost': () => ({ method: 2, type: 1, priority: 2, description: '视频丢失' }),
  tamper: () => ({ method: 2, type: 2, priority: 1, description: '设备防拆' }),
  'disk-full': (device) => ({
    deviceId: device.id,
    method: 2,
    type: 3,
    priority: 3,
    description: '存储设备磁盘满',
  }),
  'disk-fault': (device) => ({
    deviceId: device.id,
    method: 6,
    type: 1,
    priority: 2,
    description: '磁盘故障',
  }),
  input: (device) => ({
    ...(device.alarmInputs[0] ? { deviceId: device.alarmInputs[0].id } : {}),
    method: 2,
    priority: 1,
    description: '报警输入',
  }),
  panic: () => ({ method: 1, priority: 1, description: '一键报警' }),
};

export const gb28181Usage = `Usage: npm run sim -- gb28181 --server-id ID --port P --id ID --password PW [options]

A simulated GB/T 28181 device (an IPC, or an NVR with channels) that registers to a SIP server (the hub's
receivers.gb28181, or any GB/T 28181 platform) on loopback: Digest REGISTER, re-registration, Keepalive, answers
to Catalog (paged), DeviceInfo, DeviceStatus, an Alarm SUBSCRIBE, DeviceControl and (2022) SnapShotConfig.
Give the hub a device with adapter gb28181 and gb28181: { id: <--id>, password: <--password> }.

  --server-id ID        the server's 20-digit SIP id (receivers.gb28181.serverId)
  --domain D            its SIP domain / realm (default: the server id's first 10 digits)
  --host H              the server's address (default 127.0.0.1; loopback only)
  --port P              the server's port (default 5060)
  --transport udp|tcp   default udp
  --id ID               this device's 20-digit id (default 34020000001320000001, an IPC)
  --password PW         its SIP password
  --config FILE         instead of --id/--password: every gb28181 device of a gridhub config file (e.g.
                        config/demo.yaml) that has a password, each with the channels configured under it
                        (gb28181.parent); --server-id, --domain and --port default to its receivers.gb28181
  --kind ipc|nvr        default ipc (1 channel); an NVR has --channels cameras
  --channels N          camera channels (default 1 for an IPC, 4 for an NVR)
  --alarm-inputs N      alarm-input channels (type 134), default 0
  --edition 2016|2022   default 2016 (2022: AlarmTypeParam, snapshots)
  --charset gb2312|utf-8  default gb2312
  --keepalive S         Keepalive period (default 60; 0 none)
  --expires S           REGISTER Expires (default 3600)
  --page-size N         Catalog items per Response (default 2)
  --alarm-every S       an alarm every S seconds, rotating through the kinds below (default 0: none)
  --event KIND          one alarm after registering, then keep running:
                          ${Object.keys(alarmKinds).join(' | ')}
  Faults: --lost-keepalives, --malformed-xml (the first body), --wrong-password PW, --clock-skew S,
          --lying-charset (declares GB2312, sends UTF-8)
  -h, --help            this text

  npm run sim -- gb28181-superior [--port P] [--id ID] [--domain D] [--password PW]  runs the simulated superior
  platform instead (for the hub's cascade): it prints registrations, keepalives and alarms, and queries the
  catalog of whatever registers.

Examples:
  npm run sim -- gb28181 --server-id 34020000002000000001 --port 5060 --id 34020000001180000001 \\
    --password 12345678 --kind nvr --channels 4 --alarm-every 10
  npm run sim -- gb28181 --config config/demo.yaml --port 5060 --alarm-every 30
`;

function number(value: string, name: string, min: number, max: number): number {
  const n = Number(value);
  if (!(Number.isFinite(n) && n >= min && n <= max)) throw new Error(`${name} must be ${min} to ${max}`);
  return n;
}

const gbId = /^\d{20}$/;

function readConfig(configPath: string): ConfigGb {
  let config: unknown;
  try {
    config = parse(readFileSync(configPath, 'utf8'));
  } catch (error) {
    throw new Error(`cannot read --config ${configPath}: ${(error as Error).message}`);
  }
  return gbDevicesOfConfig(config);
}

/** `npm run sim -- gb28181 …`: runs until Ctrl-C. */
export async function runGb28181Cli(argv: readonly string[]): Promise<void> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      'server-id': { type: 'string' },
      domain: { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string' },
      transport: { type: 'string', default: 'udp' },
      id: { type: 'string', default: '34020000001320000001' },
      password: { type: 'string' },
      config: { type: 'string' },
      kind: { type: 'string', default: 'ipc' },
      channels: { type: 'string' },
      'alarm-inputs': { type: 'string', default: '0' },
      edition: { type: 'string', default: '2016' },
      charset: { type: 'string', default: 'gb2312' },
      keepalive: { type: 'string', default: '60' },
      expires: { type: 'string', default: '3600' },
      'page-size': { type: 'string', default: '2' },
      'alarm-every': { type: 'string', default: '0' },
      event: { type: 'string' },
      'lost-keepalives': { type: 'boolean', default: false },
      'malformed-xml': { type: 'boolean', default: false },
      'wrong-password': { type: 'string' },
      'clock-skew': { type: 'string', default: '0' },
      'lying-charset': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(gb28181Usage);
    return;
  }
  const fromConfig = values.config === undefined ? undefined : readConfig(values.config);
  if (fromConfig !== undefined && fromConfig.devices.length === 0)
    throw new Error(`--config ${values.config} has no gb28181 device with a password`);
  const serverId = values['server-id'] ?? fromConfig?.server?.serverId;
  if (serverId === undefined || !gbId.test(serverId)) throw new Error('--server-id must be a 20-digit id');
  // A config's port 0 means the hub picks one when it starts: it must be given here.
  const configPort = fromConfig?.server?.port ? String(fromConfig.server.port) : undefined;
  const port = number(values.port ?? configPort ?? '5060', '--port', 1, 65_535);
  if (fromConfig === undefined) {
    if (!gbId.test(values.id)) throw new Error('--id must be a 20-digit id');
    if (values.password === undefined) throw new Error('give the device its --password (or a --config)');
  }
  if (values.transport !== 'udp' && values.transport !== 'tcp') throw new Error('--transport is udp or tcp');
  if (values.kind !== 'ipc' && values.kind !== 'nvr') throw new Error('--kind is ipc or nvr');
  if (values.edition !== '2016' && values.edition !== '2022') throw new Error('--edition is 2016 or 2022');
  const charset = values.charset.toUpperCase();
  if (charset !== 'GB2312' && charset !== 'UTF-8') throw new Error('--charset is gb2312 or utf-8');
  const oneShot = values.event === undefined ? undefined : alarmKinds[values.event];
  if (values.event !== undefined && oneShot === undefined)
    throw new Error(`unknown --event "${values.event}"; one of: ${Object.keys(alarmKinds).join(', ')}`);
  const alarmEvery = number(values['alarm-every'], '--alarm-every', 0, 86_400);
  const common = {
    server: {
      id: serverId,
      domain: values.domain ?? fromConfig?.server?.domain ?? serverId.slice(0, 10),
      host: values.host,
      port,
      transport: values.transport,
    },
    alarmInputs: number(values['alarm-inputs'], '--alarm-inputs', 0, 64),
    edition: values.edition,
    charset,
    keepaliveSeconds: number(values.keepalive, '--keepalive', 0, 3600),
    expiresSeconds: number(values.expires, '--expires', 60, 86_400),
    catalogPageSize: number(values['page-size'], '--page-size', 1, 100),
    faults: {
      lostKeepalives: values['lost-keepalives'],
      malformedXml: values['malformed-xml'],
      ...(values['wrong-password'] === undefined ? {} : { wrongPassword: values['wrong-password'] }),
      clockSkewSeconds: Number(values['clock-skew']),
      lyingCharset: values['lying-charset'],
    },
  } satisfies Omit<GbDeviceOptions, 'id' | 'password'>;
  const devices =
    fromConfig === undefined
      ? [
          new GbDevice({
            ...common,
            id: values.id,
            password: values.password as string,
            kind: values.kind,
            ...(values.channels === undefined
              ? {}
              : { channels: number(values.channels, '--channels', 0, 256) }),
          }),
        ]
      : fromConfig.devices.map(
          (device) =>
            new GbDevice({
              ...common,
              id: device.code,
              password: device.password,
              kind: device.kind,
              name: device.name,
              channels: device.channels,
            }),
        );
  for (const device of devices) {
    device.on('registration', ({ status, expires }: { status: number; expires: number }) =>
      process.stdout.write(`${device.id} REGISTER → ${status} (expires ${expires})\n`),
    );
    device.on('request', (record: { method: string; root: string; cmdType: string }) =>
      process.stdout.write(`${device.id} ← ${record.method} ${record.root} ${record.cmdType}\n`),
    );
    device.on('problem', (problem: string) => process.stderr.write(`${device.id}: ${problem}\n`));
  }
  const started = await Promise.allSettled(devices.map((device) => device.start()));
  started.forEach((outcome, index) => {
    const device = devices[index] as GbDevice;
    process.stdout.write(
      outcome.status === 'fulfilled'
        ? `sim: GB/T 28181 ${device.channels.length > 1 ? 'recorder' : 'device'} ${device.id} (${device.channels.length} channel(s)) registered to ${serverId} at ${values.host}:${port}/${values.transport}\n`
        : `sim: GB/T 28181 ${device.id}: ${(outcome.reason as Error).message}\n`,
    );
  });
  const running = devices.filter((_, index) => started[index]?.status === 'fulfilled');
  if (running.length === 0) throw new Error('no device registered');
  if (oneShot !== undefined && values.event !== undefined) {
    const kind = values.event;
    await Promise.all(running.map((device) => raise(device, kind, oneShot)));
  }
  const kinds = Object.entries(alarmKinds);
  let turn = 0;
  // One alarm every --alarm-every seconds across the devices, each in turn, rotating through the kinds.
  const timer =
    alarmEvery > 0
      ? setInterval(() => {
          const [kind, make] = kinds[turn % kinds.length] ?? ['motion', alarmKinds.motion];
          const device = running[turn % running.length];
          turn += 1;
          if (make && device) void raise(device, kind, make);
        }, alarmEvery * 1000)
      : undefined;
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  clearInterval(timer);
  await Promise.all(running.map((device) => device.stop()));
}

/** Raises one alarm of `kind` and prints the platform's SIP answer and its Response Alarm. */
async function raise(
  device: GbDevice,
  kind: string,
  make: (device: GbDevice) => AlarmOptions,
): Promise<void> {
  try {
    const { sn, status } = await device.alarm(make(device));
    const ack = await device.ackFor(sn).then(
      (record) => `Response ${record.result}`,
      () => 'no Response Alarm',
    );
    process.stdout.write(`${device.id} alarm ${kind} SN ${sn}: ${status}, ${ack}\n`);
  } catch (error) {
    process.stderr.write(`${device.id} alarm ${kind}: ${(error as Error).message}\n`);
  }
}

/** `npm run sim -- gb28181-superior …`: a superior platform until Ctrl-C. */
export async function runGbSuperiorCli(argv: readonly string[]): Promise<void> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      id: { type: 'string', default: '34020000002000000001' },
      domain: { type: 'string' },
      password: { type: 'string', default: '12345678' },
      port: { type: 'string', default: '0' },
      'refuse-registration': { type: 'boolean', default: false },
      'drop-keepalive-answers': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(gb28181Usage);
    return;
  }
  if (!gbId.test(values.id)) throw new Error('--id must be a 20-digit id');
  const platform = new GbSuperior({
    id: values.id,
    domain: values.domain ?? values.id.slice(0, 10),
    password: values.password,
    port: number(values.port, '--port', 0, 65_535),
    faults: {
      refuseRegistration: values['refuse-registration'],
      dropKeepaliveAnswers: values['drop-keepalive-answers'],
    },
  });
  platform.on('registration', (record: { id: string; status: number; expires: number }) => {
    process.stdout.write(`${record.id} REGISTER ← ${record.status}\n`);
    if (record.status !== 200 || record.expires === 0) return;
    platform.queryCatalog(record.id).then(
      (catalog) => {
        process.stdout.write(
          `${record.id} catalog: ${catalog.sumNum} item(s) in ${catalog.pages} message(s)\n`,
        );
        for (const item of catalog.items)
          process.stdout.write(`  ${item.DeviceID} ${item.Name ?? ''} ${item.Status ?? ''}\n`);
      },
      (error: Error) => process.stderr.write(`${record.id} catalog: ${error.message}\n`),
    );
  });
  platform.on('keepalive', (record: { from: string }) => process.stdout.write(`${record.from} Keepalive\n`));
  platform.on('alarm', (record: { from: string; message: { sn: number; text: string } }) =>
    process.stdout.write(`${record.from} Alarm SN ${record.message.sn}\n`),
  );
  await platform.start();
  process.stdout.write(
    `sim: GB/T 28181 superior ${values.id} listening on 127.0.0.1:${platform.port} (udp and tcp), domain ${values.domain ?? values.id.slice(0, 10)}\n`,
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await platform.stop();
}
