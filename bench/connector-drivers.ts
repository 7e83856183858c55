import { connect, type MqttClient } from 'mqtt';
import { AlarmPanelSimulator } from '../simulators/alarm-panel/alarm-panel.ts';
import { DahuaSimulator } from '../simulators/dahua/dahua-simulator.ts';
import { GbDevice } from '../simulators/gb28181/device.ts';
import { HikvisionSimulator } from '../simulators/hikvision/hikvision-device.ts';
import { ZktecoTerminal } from '../simulators/zkteco/zkteco-terminal.ts';

/**
 * One driver per connector for bench/connectors.ts: devices of that protocol sending one event at a time on the
 * protocol's real wire, each send resolving when the hub acknowledged it (PUBACK, DC-09 ACK, an HTTP 200) — the
 * point at which the event is committed. Every driver sends the same kind of event, an alarm of one device that
 * folds into the device's open incident after the first, so the drivers differ only by their wire. A stream the hub
 * follows (Hikvision's alertStream, Dahua's eventManager) has no acknowledgement: its sends resolve once written, and
 * it is measured at fixed rates only, where the hub keeps up.
 */

export interface HubPorts {
  readonly mqtt: number;
  readonly deviceHttp: number;
  readonly sia: number;
  readonly gb28181: number;
}

export interface ConnectorDriver {
  readonly name: string;
  /** False for a stream the hub follows: a send resolves once written, not once committed. */
  readonly acknowledged: boolean;
  /** How many devices send: at most one event in flight each, as the protocols' devices do. */
  readonly senders: number;
  /** Sends the next event of device `sender`; resolves when the hub acknowledged it. */
  send(sender: number): Promise<void>;
  close(): Promise<void>;
}

/** A driver before the hub starts: the devices the hub must know (a device the hub dials is already listening). */
export interface PreparedDriver {
  readonly devices: readonly Record<string, unknown>[];
  readonly open: (ports: HubPorts) => Promise<ConnectorDriver>;
}

export interface DriverSpec {
  readonly name: string;
  readonly prepare: (senders: number) => Promise<PreparedDriver>;
}

const grid = 'grid-xijiao-01';

/** The bench's devices of one connector: `senders` of them, described by index. */
function benchDevices(senders: number, describe: (index: number) => Record<string, unknown>) {
  return Array.from({ length: senders }, (_, index) => ({ ...describe(index), grid }));
}

/**
 * A driver over one simulator per device: sender `n` sends with simulator `n`, and closing stops them all. What the
 * drivers share, so each says only how its simulator sends an event and what answer acknowledges it.
 */
function simulatorDriver<Sim>(
  name: string,
  sims: readonly Sim[],
  how: {
    acknowledged: boolean;
    send: (sim: Sim, sender: number) => Promise<unknown>;
    stop: (sim: Sim) => Promise<unknown>;
  },
): ConnectorDriver {
  return {
    name,
    acknowledged: how.acknowledged,
    senders: sims.length,
    send: async (sender) => {
      await how.send(sims[sender] as Sim, sender);
    },
    close: async () => {
      await Promise.all(sims.map(how.stop));
    },
  };
}

/** Throws unless the hub answered `expected`: an event it did not take is an error, not an acknowledgement. */
function expectAnswer(answer: number | string | undefined, expected: number | string): void {
  if (answer !== expected) throw new Error(`answered ${answer ?? 'nothing'}`);
}

/** MQTT, the hub's own dialect: a gate reporting a denied card at QoS 1. */
const mqttDriver: DriverSpec = {
  name: 'mqtt',
  prepare: async (senders) => ({
    devices: benchDevices(senders, (index) => ({
      id: `bench-mqtt-${index}`,
      name: `Bench MQTT gate ${index}`,
      adapter: 'gate-access',
      secret: `bench-secret-mqtt-${index}`,
    })),
    open: async (ports) => {
      const clients: { client: MqttClient; topic: string; seq: number }[] = await Promise.all(
        Array.from({ length: senders }, async (_, index) => {
          const id = `bench-mqtt-${index}`;
          const client = connect(`mqtt://127.0.0.1:${ports.mqtt}`, {
            clientId: id,
            username: id,
            password: `bench-secret-mqtt-${index}`,
            reconnectPeriod: 0,
          });
          await new Promise<void>((resolve, reject) => {
            client.once('connect', () => resolve());
            client.once('error', reject);
          });
          return { client, topic: `gridhub/devices/${id}/events`, seq: 0 };
        }),
      );
      return {
        name: 'mqtt',
        acknowledged: true,
        senders,
        send: (sender) => {
          const device = clients[sender] as (typeof clients)[number];
          device.seq += 1;
          const frame = JSON.stringify({
            seq: device.seq,
            time: new Date().toISOString(),
            event: 'ACCESS_DENIED',
            door: 1,
            direction: 'in',
            credential: { type: 'card', number: '99999999' },
            reason: 'UNKNOWN_CREDENTIAL',
          });
          return new Promise((resolve, reject) =>
            device.client.publish(device.topic, frame, { qos: 1 }, (error) =>
              error ? reject(error) : resolve(),
            ),
          );
        },
        close: async () => {
          await Promise.all(clients.map(({ client }) => client.endAsync()));
        },
      };
    },
  }),
};

/** SIA DC-09 over TCP, Contact ID in the clear: a one-key alarm pillar reporting a burglary zone alarm. */
const siaDriver: DriverSpec = {
  name: 'sia-dc09',
  prepare: async (senders) => {
    const account = (index: number) => `BE${String(index).padStart(4, '0')}`;
    return {
      devices: benchDevices(senders, (index) => ({
        id: `bench-sia-${index}`,
        name: `Bench alarm panel ${index}`,
        adapter: 'alarm-panel-cid',
        sia: { account: account(index) },
      })),
      open: async (ports) =>
        simulatorDriver(
          'sia-dc09',
          Array.from(
            { length: senders },
            (_, index) =>
              new AlarmPanelSimulator({
                host: '127.0.0.1',
                port: ports.sia,
                transport: 'tcp',
                account: account(index),
                answerTimeoutMs: 10_000,
                retries: 0,
              }),
          ),
          {
            acknowledged: true,
            send: async (panel) => expectAnswer((await panel.alarm(1)).answer?.kind, 'ACK'),
            stop: (panel) => panel.stop(),
          },
        ),
    };
  },
};

const hikSecret = (index: number) => `bench-hik-${String(index).padStart(6, '0')}`;

/** Hikvision's listening host: a camera POSTs each motion alert (XML) to the device HTTP listener, Basic. */
const hikvisionPushDriver: DriverSpec = {
  name: 'hikvision push',
  prepare: async (senders) => ({
    devices: benchDevices(senders, (index) => ({
      id: `bench-hikpush-${index}`,
      name: `Bench Hikvision pushing camera ${index}`,
      adapter: 'hikvision-isapi',
      serial: `BENCHHIKP${index}`,
      secret: hikSecret(index),
    })),
    open: async (ports) => {
      const cameras = Array.from(
        { length: senders },
        (_, index) =>
          new HikvisionSimulator({
            kind: 'camera',
            username: 'admin',
            password: 'unused-here',
            serial: `BENCHHIKP${index}`,
            partGapMs: 0,
            listeningHost: {
              url: `http://127.0.0.1:${ports.deviceHttp}/hikvision/alarm`,
              username: `bench-hikpush-${index}`,
              password: hikSecret(index),
              format: 'xml',
            },
          }),
      );
      await Promise.all(cameras.map((camera) => camera.start()));
      return simulatorDriver('hikvision push', cameras, {
        acknowledged: true,
        send: async (camera) => {
          await camera.motion(true);
          expectAnswer(camera.pushes.at(-1)?.status, 200);
        },
        stop: (camera) => camera.stop(),
      });
    },
  }),
};

/** Hikvision's alertStream, which the hub follows: a camera writes each motion alert as a multipart part. */
const hikvisionStreamDriver: DriverSpec = {
  name: 'hikvision stream',
  prepare: async (senders) => {
    const cameras = Array.from(
      { length: senders },
      (_, index) =>
        new HikvisionSimulator({
          kind: 'camera',
          username: 'admin',
          password: `bench-hik-stream-${index}`,
          serial: `BENCHHIKS${index}`,
          partGapMs: 0,
        }),
    );
    await Promise.all(cameras.map((camera) => camera.start()));
    return {
      devices: benchDevices(senders, (index) => ({
        id: `bench-hikstream-${index}`,
        name: `Bench Hikvision streaming camera ${index}`,
        adapter: 'hikvision-isapi',
        serial: `BENCHHIKS${index}`,
        http: { url: cameras[index]?.url, username: 'admin', password: `bench-hik-stream-${index}` },
      })),
      open: async () =>
        simulatorDriver('hikvision stream', cameras, {
          acknowledged: false,
          send: (camera) => camera.motion(true),
          stop: (camera) => camera.stop(),
        }),
    };
  },
};

/** Dahua's eventManager stream, which the hub attaches to: a camera writes VideoMotion Start and Stop parts. */
const dahuaDriver: DriverSpec = {
  name: 'dahua stream',
  prepare: async (senders) => {
    const cameras = Array.from(
      { length: senders },
      (_, index) =>
        new DahuaSimulator({
          username: 'admin',
          password: `bench-dahua-${index}`,
          serialNumber: `BENCHDAHUA${index}`,
        }),
    );
    await Promise.all(cameras.map((camera) => camera.start()));
    const on = cameras.map(() => false);
    return {
      devices: benchDevices(senders, (index) => ({
        id: `bench-dahua-${index}`,
        name: `Bench Dahua camera ${index}`,
        adapter: 'dahua-cgi',
        serial: `BENCHDAHUA${index}`,
        http: { url: cameras[index]?.url, username: 'admin', password: `bench-dahua-${index}` },
      })),
      open: async () => {
        await Promise.all(cameras.map((camera) => camera.waitForAttach()));
        return simulatorDriver('dahua stream', cameras, {
          acknowledged: false,
          send: (camera, sender) => {
            on[sender] = !on[sender];
            return camera.motion(on[sender] as boolean);
          },
          stop: (camera) => camera.stop(),
        });
      },
    };
  },
};

/** ZKTeco ADMS: an access terminal uploads each denied card as an rtlog record (one per POST), answered OK. */
const zktecoDriver: DriverSpec = {
  name: 'zkteco adms',
  prepare: async (senders) => ({
    devices: benchDevices(senders, (index) => ({
      id: `bench-zk-${index}`,
      name: `Bench ZKTeco terminal ${index}`,
      adapter: 'zkteco-adms',
      serial: `BENCHZK${index}`,
    })),
    open: async (ports) => {
      const terminals = Array.from(
        { length: senders },
        (_, index) =>
          new ZktecoTerminal({
            url: `http://127.0.0.1:${ports.deviceHttp}`,
            serial: `BENCHZK${index}`,
            pollMs: 60_000,
          }),
      );
      await Promise.all(terminals.map((terminal) => terminal.register()));
      return simulatorDriver('zkteco adms', terminals, {
        acknowledged: true,
        send: async (terminal) => expectAnswer((await terminal.swipe('99999999', false)).status, 200),
        stop: (terminal) => terminal.stop(),
      });
    },
  }),
};

/** A bench IPC's national code: centre 3402000000, type 132 (IPC), serial 9xxxxx (clear of the demo's). */
const gbCode = (index: number) => `3402000000132${String(900_000 + index).padStart(7, '0')}`;
const gbServer = { id: '34020000002000000001', domain: '3402000000' };

/**
 * GB/T 28181 over UDP: an IPC, registered with digest, sends each motion alarm as a MANSCDP Notify Alarm MESSAGE;
 * the hub's 200 (sent once the event is committed) acknowledges it. The hub then sends the standard's Response
 * Alarm, which the simulator answers 200: that exchange is part of the hub's cost per event. The simulators are
 * the ones `npm run sim -- gb28181` runs, with keepalives off so that only alarms count.
 */
const gb28181Driver: DriverSpec = {
  name: 'gb28181',
  prepare: async (senders) => ({
    devices: benchDevices(senders, (index) => ({
      id: `bench-gb-${index}`,
      name: `Bench GB/T 28181 IPC ${index}`,
      adapter: 'gb28181',
      gb28181: { id: gbCode(index), password: `bench-gb-${index}` },
    })),
    open: async (ports) => {
      const cameras = Array.from(
        { length: senders },
        (_, index) =>
          new GbDevice({
            server: { ...gbServer, host: '127.0.0.1', port: ports.gb28181, transport: 'udp' },
            id: gbCode(index),
            password: `bench-gb-${index}`,
            kind: 'ipc',
            // The IPC is its own channel: its alarms are its own device's.
            channels: [{ id: gbCode(index), name: `Bench IPC ${index}` }],
            keepaliveSeconds: 0,
            timeoutMs: 10_000,
          }),
      );
      await Promise.all(cameras.map((camera) => camera.start()));
      return simulatorDriver('gb28181', cameras, {
        acknowledged: true,
        send: async (camera) => {
          const { status } = await camera.alarm({
            method: 5,
            type: 2,
            priority: 3,
            description: '运动目标检测',
          });
          expectAnswer(status, 200);
          // The records are for tests; a bench device keeps only the last few.
          if (camera.alarmAcks.length > 64) camera.alarmAcks.splice(0, 32);
        },
        stop: (camera) => camera.stop(),
      });
    },
  }),
};

export const drivers: readonly DriverSpec[] = [
  mqttDriver,
  siaDriver,
  hikvisionPushDriver,
  hikvisionStreamDriver,
  dahuaDriver,
  zktecoDriver,
  gb28181Driver,
];
