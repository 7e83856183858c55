import { gb28181 } from '../../devices/gb28181/index.ts';
import { type AlarmOptions, GbDevice } from '../../simulators/gb28181/device.ts';
import type { ConfigFile } from '../../src/config/schema.ts';
import { demoConfig, deploymentOf, type TestHub } from '../helpers/hub.ts';
import {
  type ConnectorScenario,
  type ConnectorSimulator,
  describeConnectorConformance,
} from './connector-kit.ts';

/**
 * The GB/T 28181 family on its own wire: the simulated IPC (simulators/gb28181/device.ts, its own SIP stack, the
 * 2022 edition) registers to the hub's SIP server over UDP with digest, keeps alive every 0.3 s and raises every
 * alarm the adapter decodes, as MESSAGE Notify Alarm; the hub answers each 200 once committed. Broken XML, a priority
 * outside 1..4, garbage on the SIP port and a device with the wrong password are refused on the same wire. Commands
 * go out as MESSAGE Control DeviceControl and come back as the device's Response.
 */

const deviceId = 'ipc-conformance-gb';
const code = '34020000001320000501';
const password = 'ipc-conformance-gb-secret';
const serverId = '34020000002000000001';
const domain = '3402000000';

type GbSettings = NonNullable<ConfigFile['receivers']['gb28181']>;

/**
 * The simulated IPC as the kit drives it. Its AlarmTime is wall-clock time without an offset, read by the hub in
 * hub.timezone: the simulator writes this machine's local time, so its clock is moved by the difference, as a
 * device whose clock the hub's Date header set would be.
 */
class ConformanceIpc implements ConnectorSimulator {
  #device: GbDevice | undefined;
  #port = 0;

  get device(): GbDevice {
    if (this.#device === undefined) throw new Error('the IPC was not attached to a hub');
    return this.#device;
  }

  async attach(hub: TestHub): Promise<void> {
    this.#port = hub.hub.gb28181Port;
    this.#device = new GbDevice({
      server: { id: serverId, domain, host: '127.0.0.1', port: this.#port, transport: 'udp' },
      id: code,
      password,
      kind: 'ipc',
      channels: 0,
      edition: '2022',
      keepaliveSeconds: 0.3,
      // Its clock is set from the hub's Date on registering, as a real device's is.
      timeoutMs: 4000,
    });
    await this.#device.start();
  }

  goSilent(): void {
    this.device.faults.lostKeepalives = true;
  }

  resume(): void {
    this.device.faults.lostKeepalives = false;
  }

  async stop(): Promise<void> {
    await this.#device?.stop();
  }

  /** Raises an alarm as the IPC itself; rejects unless the hub answered 200. */
  async alarm(options: AlarmOptions): Promise<void> {
    const { status } = await this.device.alarm({ deviceId: code, ...options });
    if (status !== 200) throw new Error(`the hub answered the alarm ${status}, not 200`);
  }

  /** A keepalive; resolves with the hub's status. */
  keepalive(): Promise<number | 'timeout'> {
    return this.device.keepalive();
  }

  /** A device whose password is wrong, registering: refused (403). */
  async impostor(): Promise<void> {
    const impostor = new GbDevice({
      server: { id: serverId, domain, host: '127.0.0.1', port: this.#port, transport: 'udp' },
      id: code,
      password,
      keepaliveSeconds: 0,
      timeoutMs: 4000,
      faults: { wrongPassword: 'not-the-password' },
    });
    await impostor.start().then(
      () => {
        throw new Error('an impostor registered');
      },
      (error: Error) => {
        if (!/403/.test(error.message)) throw error;
      },
    );
  }
}

type Scenario = ConnectorScenario<ConformanceIpc>;

/** An alarm and the event it decodes to: every event carries who raised it, the codes, the words and the edition. */
function alarm(
  name: string,
  options: Required<Pick<AlarmOptions, 'priority' | 'method'>> & Pick<AlarmOptions, 'type' | 'eventType'>,
  type: string,
  standardName: string,
  extra: Record<string, unknown> = {},
): Scenario {
  const description = `${name} (conformance)`;
  return {
    name,
    act: (sim) => sim.alarm({ ...options, description }),
    expect: {
      type,
      attributes: {
        source: code,
        priority: options.priority,
        method: options.method,
        ...(options.type === undefined ? {} : { alarmType: options.type }),
        ...(options.eventType === undefined ? {} : { eventType: options.eventType }),
        description,
        edition: '2022',
        ...extra,
        code: standardName,
      },
    },
  };
}

const scenarios: readonly Scenario[] = [
  alarm('a resident phones the alarm centre', { priority: 1, method: 1 }, 'alarm.panic', '电话报警', {
    via: 'phone',
  }),
  alarm('a resident texts the alarm centre', { priority: 1, method: 3 }, 'alarm.panic', '短信报警', {
    via: 'sms',
  }),
  alarm('an alarm input wired to the device', { priority: 2, method: 2 }, 'alarm.input', '设备报警'),
  alarm('a GPS alarm', { priority: 3, method: 4 }, 'alarm.general', 'GPS报警', { via: 'gps' }),
  alarm(
    'an operator raises a video alarm by hand',
    { priority: 3, method: 5, type: 1 },
    'alarm.general',
    '人工视频报警',
    {
      via: 'manual_video',
    },
  ),
  alarm('another alarm', { priority: 4, method: 7 }, 'alarm.general', '其他报警'),
  alarm('video lost', { priority: 1, method: 2, type: 1 }, 'camera.video_lost', '视频丢失报警'),
  alarm('the device is opened', { priority: 1, method: 2, type: 2 }, 'device.tamper', '设备防拆报警'),
  alarm('the disk is full', { priority: 2, method: 2, type: 3 }, 'storage.failure', '存储设备磁盘满报警', {
    reason: 'full',
  }),
  alarm('the disk failed', { priority: 2, method: 6, type: 1 }, 'storage.failure', '存储设备磁盘故障报警', {
    reason: 'error',
  }),
  alarm(
    'the device overheats',
    { priority: 2, method: 2, type: 4 },
    'camera.hardware_failure',
    '设备高温报警',
    {
      part: 'temperature',
      reason: 'high',
    },
  ),
  alarm(
    'the device is too cold',
    { priority: 2, method: 2, type: 5 },
    'camera.hardware_failure',
    '设备低温报警',
    {
      part: 'temperature',
      reason: 'low',
    },
  ),
  alarm(
    'the fan failed',
    { priority: 3, method: 6, type: 2 },
    'camera.hardware_failure',
    '存储设备风扇故障报警',
    {
      part: 'fan',
    },
  ),
  alarm('a device fault', { priority: 3, method: 6 }, 'camera.hardware_failure', '设备故障报警'),
  alarm('motion', { priority: 3, method: 5, type: 2 }, 'camera.motion', '运动目标检测报警'),
  alarm('an object left behind', { priority: 2, method: 5, type: 3 }, 'camera.object_left', '遗留物检测报警'),
  alarm(
    'an object taken away',
    { priority: 2, method: 5, type: 4 },
    'camera.object_removed',
    '物体移除检测报警',
  ),
  alarm('a tripwire crossed', { priority: 2, method: 5, type: 5 }, 'camera.line_crossed', '绊线检测报警'),
  alarm('an intrusion', { priority: 1, method: 5, type: 6 }, 'camera.intrusion', '入侵检测报警'),
  alarm(
    'an intrusion: entering the region',
    { priority: 1, method: 5, type: 6, eventType: 1 },
    'camera.region_entered',
    '进入区域',
  ),
  alarm(
    'an intrusion: leaving the region',
    { priority: 2, method: 5, type: 6, eventType: 2 },
    'camera.region_exited',
    '离开区域',
  ),
  alarm(
    'moving the wrong way',
    { priority: 3, method: 5, type: 7 },
    'camera.wrong_direction',
    '逆行检测报警',
  ),
  alarm('loitering', { priority: 3, method: 5, type: 8 }, 'camera.loitering', '徘徊检测报警'),
  alarm(
    'the flow of people passes its threshold',
    { priority: 3, method: 5, type: 9 },
    'camera.crowd_flow',
    '流量统计报警',
  ),
  alarm('a dense crowd', { priority: 2, method: 5, type: 10 }, 'camera.crowd_density', '密度检测报警'),
  alarm(
    'an abnormal image',
    { priority: 3, method: 5, type: 11 },
    'camera.video_abnormal',
    '视频异常检测报警',
  ),
  alarm('something moves fast', { priority: 3, method: 5, type: 12 }, 'camera.fast_moving', '快速移动报警'),
  alarm('the view is covered (2022)', { priority: 2, method: 5, type: 13 }, 'camera.tamper', '图像遮挡报警'),
  {
    name: 'a keepalive',
    act: async (sim) => {
      const status = await sim.keepalive();
      if (status !== 200) throw new Error(`the hub answered the keepalive ${status}, not 200`);
    },
    expect: null,
  },
];

function deployment() {
  const config = demoConfig();
  config.receivers = {
    ...config.receivers,
    gb28181: { port: 0, serverId, domain, queryTimeoutSeconds: 5 } as GbSettings,
  };
  config.devices = [
    ...config.devices,
    {
      id: deviceId,
      name: '西郊国标枪机 Xijiao GB/T 28181 IPC (conformance)',
      adapter: 'gb28181',
      grid: 'grid-xijiao-02',
      offlineAfterSeconds: 2,
      gb28181: { id: code, password },
    },
  ] as ConfigFile['devices'];
  return deploymentOf(config);
}

describeConnectorConformance<ConformanceIpc>({
  adapter: gb28181,
  deviceId,
  officerToken: 'demo-officer-xijiao',
  // AlarmTime is written to the second: each event is within a second and a half of its act.
  deviceTime: { toleranceMs: 1_500 },
  prepare: async () => ({ sim: new ConformanceIpc(), deployment: deployment() }),
  attach: (sim, hub) => sim.attach(hub),
  scenarios,
  malformed: [
    {
      name: 'a keepalive whose XML never closes its root',
      send: async (sim) => {
        sim.device.faults.malformedXml = true;
        const status = await sim.keepalive();
        if (status !== 400) throw new Error(`broken XML was answered ${status}, not 400`);
      },
      reason: 'malformed',
      problem: 'not XML',
    },
    {
      name: 'an alarm with a priority outside 1..4',
      send: async (sim) => {
        const { status } = await sim.device.alarm({ deviceId: code, priority: 9 as 1, method: 2 });
        if (status !== 400) throw new Error(`a priority of 9 was answered ${status}, not 400`);
      },
      reason: 'malformed',
      problem: 'Alarm: priority',
    },
    {
      name: 'garbage on the SIP port',
      send: async (sim) => sim.device.sendRaw('this is not SIP\r\n\r\n'),
      reason: 'malformed',
      problem: 'the start line is neither a request line nor a status line',
    },
    {
      name: 'a device registering with the wrong password',
      send: (sim) => sim.impostor(),
      reason: 'unauthenticated',
      problem: 'the digest does not match the device’s password',
    },
  ],
  commands: [
    { command: 'guard', params: { on: true }, expectOk: true },
    { command: 'guard', params: { on: false }, expectOk: true },
    { command: 'resetAlarm', params: {}, expectOk: true },
    { command: 'resetAlarm', params: { method: 5, alarmType: 2 }, expectOk: true },
    { command: 'reboot', params: {}, expectOk: true },
  ],
});
