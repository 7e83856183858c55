import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { adapters } from '../devices/index.ts';
import { adapterMap } from '../src/adapters.ts';
import { readRuntimeSettings, resolveDeployment } from '../src/config/load.ts';
import { isGridhubError } from '../src/core/errors.ts';
import { Hub } from '../src/hub.ts';
import { createLogger } from '../src/observability/logger.ts';
import { AlarmPanelSimulator } from './alarm-panel/alarm-panel.ts';
import { runAlarmPanelScenario } from './alarm-panel/scenario.ts';
import { DahuaSimulator } from './dahua/dahua-simulator.ts';
import { runDahuaScenario } from './dahua/scenario.ts';
import { GateSimulator } from './gate-access/gate-simulator.ts';
import { runGateScenario } from './gate-access/scenario.ts';
import { alarmKinds } from './gb28181/cli.ts';
import { gbDevicesOfConfig } from './gb28181/config-devices.ts';
import { GbDevice } from './gb28181/device.ts';
import { demoHikvisionEvent, pointAtHub, startDemoHikvision } from './hikvision/demo-devices.ts';
import { findFfmpeg } from './onvif-camera/media.ts';
import { OnvifCameraSimulator } from './onvif-camera/onvif-camera.ts';
import { runSentryScenario } from './sentry-box/scenario.ts';
import { SentrySimulator } from './sentry-box/sentry-simulator.ts';
import type { MqttDeviceOptions } from './shared/mqtt-device.ts';
import { runZktecoScenario } from './zkteco/cli.ts';
import { ZktecoTerminal } from './zkteco/zkteco-terminal.ts';

/**
 * `npm run demo`: the hub on the demo jurisdiction, plus a simulated device for every gate, sentry box and alarm
 * panel in it, each with its own credentials from the config, heartbeating, and producing a plausible stream of
 * events (DEMO_RATE per second across the gates, default 2; the sentry boxes a fifth of that, the alarm panels a
 * tenth; the GB/T 28181 NVR and camera an alarm every 25 s between them) until Ctrl-C.
 */
const projectRoot = path.resolve(import.meta.dirname, '..');

async function main(): Promise<void> {
  const runtime = readRuntimeSettings(process.env, projectRoot);
  // Simulated ONVIF cameras first: the demo's deployment adds them with the addresses they got.
  const cameras = await startDemoCameras();
  const dahua = await startDemoDahua();
  const file = parse(readFileSync(runtime.configPath, 'utf8')) as { devices?: Record<string, unknown>[] };
  // Simulated Hikvision devices at the addresses the config gives them; the Dahua camera where its simulator listens.
  const hikvision = await startDemoHikvision(file.devices ?? []);
  file.devices = [...(file.devices ?? []), ...cameras.map((camera) => camera.device), dahua.device];
  const deployment = resolveDeployment(file, adapterMap(adapters), runtime.configPath);
  // The hub keeps only digests; the simulated devices need the secrets themselves, as written in the file.
  const secrets = new Map(
    (
      (parse(readFileSync(runtime.configPath, 'utf8')) as { devices?: { id: string; secret?: string }[] })
        .devices ?? []
    )
      .filter((device) => device.secret !== undefined)
      .map((device) => [device.id, device.secret as string]),
  );
  const hub = new Hub({
    deployment,
    runtime,
    host: '127.0.0.1',
    logger: createLogger(process.env.LOG_LEVEL ?? 'warn'),
  });
  await hub.start();
  pointAtHub(hikvision, file.devices ?? [], hub.deviceHttpPort);

  const optionsFor = (deviceId: string): MqttDeviceOptions => ({
    url: `mqtt://127.0.0.1:${hub.mqttPort}`,
    deviceId,
    topicBase: deployment.settings.topicBase,
    heartbeatSeconds: 30,
    ...(secrets.has(deviceId) ? { secret: secrets.get(deviceId) as string } : {}),
  });
  const ofAdapter = (id: string) => deployment.devices.filter((device) => device.adapter.id === id);
  const gates = ofAdapter('gate-access').map((device) => new GateSimulator(optionsFor(device.id)));
  const sentries = ofAdapter('sentry-box').map((device) => new SentrySimulator(optionsFor(device.id)));
  await Promise.all([...gates, ...sentries].map((sim) => sim.start()));
  // Alarm panels report over SIA DC-09 to the hub's receiver: the first in the clear over TCP (Contact ID), the
  // next encrypted over UDP (SIA DCS) when it has a key, each supervised with NULL messages.
  const panels = ofAdapter('alarm-panel-cid').flatMap((device, index) => {
    const sia = device.sia;
    if (sia === undefined || hub.siaPort === 0) return [];
    const key =
      sia.key === undefined ? undefined : Buffer.from(sia.key, sia.keyEncoding === 'text' ? 'utf8' : 'hex');
    return [
      new AlarmPanelSimulator({
        host: '127.0.0.1',
        port: hub.siaPort,
        transport: key === undefined ? 'tcp' : 'udp',
        account: sia.account,
        ...(key === undefined ? {} : { key }),
        protocol: index % 2 === 0 ? 'ADM-CID' : 'SIA-DCS',
      }),
    ];
  });
  for (const panel of panels) panel.startSupervision(30);
  // ZKTeco terminals push over ADMS to the device HTTP listener (receivers.http), known by their serial.
  const terminals = ofAdapter('zkteco-adms').flatMap((device) =>
    device.serial === undefined
      ? []
      : [new ZktecoTerminal({ url: `http://127.0.0.1:${hub.deviceHttpPort}`, serial: device.serial })],
  );
  await Promise.all(terminals.map((terminal) => terminal.start()));
  // GB/T 28181 NVRs and cameras register to the hub's SIP server (receivers.gb28181) on the port it bound, as the
  // national code and password the file gives them, the NVR with the channels configured under it.
  const gbDevices = await startDemoGb(file, hub.gb28181Port);
  const rate = Number(process.env.DEMO_RATE ?? 2);
  process.stdout.write(
    [
      `gridhub demo: ${deployment.settings.name}`,
      `  http://localhost:${hub.httpPort}   mqtt://localhost:${hub.mqttPort}`,
      `  ${gates.length} simulated gates at ${rate} events/s, ${sentries.length} sentry boxes at ${rate / 5} events/s,`,
      `  ${panels.length} alarm panels over SIA DC-09 (port ${hub.siaPort}, TCP and UDP) at ${rate / 10} events/s,`,
      `  ${hikvision.length} Hikvision devices (an event every ${cameraEverySeconds} s; alarms pushed to :${hub.deviceHttpPort})`,
      `  ${cameras.length} ONVIF cameras (an event every ${cameraEverySeconds} s)${cameras[0]?.sim.rtspUrl.startsWith('rtsp://127.0.0.1:554') ? '' : ', with RTSP'}`,
      `  ${terminals.length} ZKTeco ADMS terminal(s) at http://localhost:${hub.deviceHttpPort}/iclock/ (an event every ${terminalEverySeconds} s;`,
      `  open a door: curl -X POST -H 'Authorization: Bearer demo-officer-xijiao' -H 'content-type: application/json' \\`,
      `    -d '{}' http://localhost:${hub.httpPort}/api/devices/${ofAdapter('zkteco-adms')[0]?.id ?? '<id>'}/commands/open_door)`,
      `  1 Dahua camera over HTTP CGI at ${dahua.sim.url} (an event every ${1 / dahuaRate} s)`,
      `  ${gbDevices.length} GB/T 28181 device(s) registered over SIP to udp:${hub.gb28181Port} (an alarm every ${gbEverySeconds} s)`,
      `  open http://localhost:${hub.httpPort}/ (token demo-officer-qinghe) or`,
      `  curl -H 'Authorization: Bearer demo-officer-qinghe' http://localhost:${hub.httpPort}/api/incidents?limit=5`,
      '  Ctrl-C to stop.',
      '',
    ].join('\n'),
  );

  const abort = new AbortController();
  process.once('SIGINT', () => abort.abort());
  process.once('SIGTERM', () => abort.abort());
  hub.bus.on('incident:created', (incident) => {
    process.stdout.write(
      `${incident.severity.padEnd(8)} ${incident.title} · ${incident.chain[0]?.name} · ${incident.device.id}\n`,
    );
  });
  const cameraEvents = setInterval(() => {
    const camera = cameras[Math.floor(Math.random() * cameras.length)];
    const roll = Math.random();
    if (camera === undefined) return;
    const act =
      roll < 0.5 ? camera.sim.lineCross() : roll < 0.9 ? camera.sim.intrusion(true) : camera.sim.motion(true);
    void act.catch(() => undefined);
    void demoHikvisionEvent(hikvision).catch(() => undefined);
  }, cameraEverySeconds * 1000);
  const gbEvents = setInterval(() => {
    const device = gbDevices[Math.floor(Math.random() * gbDevices.length)];
    const kinds = Object.values(alarmKinds);
    const make = kinds[Math.floor(Math.random() * kinds.length)];
    if (device !== undefined && make !== undefined) void device.alarm(make(device)).catch(() => undefined);
  }, gbEverySeconds * 1000);
  await Promise.all([
    runGateScenario(gates, { rate, signal: abort.signal }),
    runSentryScenario(sentries, { rate: rate / 5, signal: abort.signal }),
    runAlarmPanelScenario(panels, { rate: rate / 10, signal: abort.signal }),
    ...(terminals.length === 0
      ? []
      : [runZktecoScenario(terminals, { rate: 1 / terminalEverySeconds, signal: abort.signal })]),
    runDahuaScenario([dahua.sim], { rate: dahuaRate, signal: abort.signal }),
  ]);
  await Promise.all(panels.map((panel) => panel.stop()));
  clearInterval(cameraEvents);
  clearInterval(gbEvents);
  await Promise.all(gbDevices.map((device) => device.stop()));
  await Promise.all([...gates, ...sentries, ...terminals].map((sim) => sim.stop()));
  await hub.stop();
  await Promise.all(cameras.map((camera) => camera.sim.stop()));
  await Promise.all(hikvision.map((device) => device.sim.stop()));
  await dahua.sim.stop();
}

const dahuaRate = 1 / 15;

/**
 * The demo's Dahua camera: a camera with an HTTP API at the Luming Grid 1 gate, whose event stream the hub attaches
 * to (devices/dahua-cgi). Like the ONVIF cameras it is added with the address its simulator got, so that the
 * demo file names no port that may be taken.
 */
async function startDemoDahua(): Promise<{ sim: DahuaSimulator; device: Record<string, unknown> }> {
  const sim = new DahuaSimulator({
    username: 'admin',
    password: 'demo-dahua-1',
    serialNumber: 'DEMO-DAHUA-1',
    name: 'cam-dahua-luming-01-gate',
  });
  await sim.start();
  const device = {
    id: 'cam-dahua-luming-01-gate',
    name: '鹿鸣1网格大门大华摄像机 Luming Grid 1 gate Dahua camera',
    adapter: 'dahua-cgi',
    grid: 'grid-luming-01',
    http: { url: sim.url, username: 'admin', password: 'demo-dahua-1' },
    serial: 'DEMO-DAHUA-1',
    // Incidents of the gate it looks at get its snapshot too.
    watches: ['gate-luming-01-south'],
  };
  return { sim, device };
}

const gbEverySeconds = 25;

/**
 * Simulated GB/T 28181 devices for the file's gb28181 devices that have a password, registered to `port`. A device
 * the hub refuses is reported and left out, so that the rest of the demo runs.
 */
async function startDemoGb(file: unknown, port: number): Promise<GbDevice[]> {
  const { server, devices } = gbDevicesOfConfig(file);
  if (server === undefined || port === 0) return [];
  const sims = devices.map(
    (device) =>
      new GbDevice({
        server: { id: server.serverId, domain: server.domain, host: '127.0.0.1', port, transport: 'udp' },
        id: device.code,
        password: device.password,
        kind: device.kind,
        name: device.name,
        channels: device.channels,
        keepaliveSeconds: 30,
      }),
  );
  const outcomes = await Promise.allSettled(sims.map((sim) => sim.start()));
  return sims.filter((sim, index) => {
    const outcome = outcomes[index];
    if (outcome?.status === 'rejected')
      process.stderr.write(`gridhub demo: GB/T 28181 ${sim.id}: ${(outcome.reason as Error).message}\n`);
    return outcome?.status === 'fulfilled';
  });
}

const cameraEverySeconds = 20;
const terminalEverySeconds = 5;

/** The demo's cameras: each in a grid, watching a gate of it (with a PTZ preset for the first). */
const demoCameras = [
  {
    id: 'cam-xijiao-01-north',
    grid: 'grid-xijiao-01',
    watches: 'gate-xijiao-01-north',
    name: '西郊1网格北门摄像机 Xijiao Grid 1 north camera',
  },
  {
    id: 'cam-zhenxing-02-yard',
    grid: 'grid-zhenxing-02',
    watches: 'gate-zhenxing-02-south',
    name: '振兴2网格院内摄像机 Zhenxing Grid 2 yard camera',
  },
  {
    id: 'cam-luming-03-lane',
    grid: 'grid-luming-03',
    watches: 'gate-luming-03-south',
    name: '鹿鸣3网格车道摄像机 Luming Grid 3 lane camera',
  },
];

async function startDemoCameras(): Promise<{ sim: OnvifCameraSimulator; device: Record<string, unknown> }[]> {
  const rtsp = (await findFfmpeg()) !== undefined;
  return Promise.all(
    demoCameras.map(async (camera, index) => {
      const sim = new OnvifCameraSimulator({
        username: 'admin',
        password: `demo-camera-${index + 1}`,
        name: camera.id,
        manufacturer: 'Gridhub Sim',
        model: 'SIM-PTZ',
        serialNumber: `DEMO-${index + 1}`,
        presets: [{ token: '1', name: 'gate' }],
        rtsp,
        discoveryPort: false,
      });
      await sim.start();
      const device = {
        id: camera.id,
        name: camera.name,
        adapter: 'onvif-camera',
        grid: camera.grid,
        onvif: { xaddr: sim.xaddr, username: 'admin', password: `demo-camera-${index + 1}` },
        watches: [camera.watches],
        presets: { [camera.watches]: '1' },
      };
      return { sim, device };
    }),
  );
}

main().catch((error: unknown) => {
  process.stderr.write(
    `gridhub demo: ${isGridhubError(error) ? error.message : ((error as Error).stack ?? String(error))}\n`,
  );
  if (isGridhubError(error)) for (const problem of error.problems) process.stderr.write(`  - ${problem}\n`);
  process.exit(1);
});
