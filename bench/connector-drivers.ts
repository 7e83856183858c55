import { connect, type MqttClient } from 'mqtt';
import { AlarmPanelSimulator } from '../simulators/alarm-panel/alarm-panel.ts';
import { DahuaSimulator } from '../simulators/dahua/dahua-simulator.ts';
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

/** MQTT, the hub's own dialect: a gate reporting a denied card at QoS 1. */
const mqttDriver: DriverSpec = {
  name: 'mqtt',
  prepare: async (senders) => ({
    devices: Array.from({ length: senders }, (_, index) => ({
      id: `bench-mqtt-${index}`,
      name: `Bench MQTT gate ${index}`,
      adapter: 'gate-access',
      secret: `bench-secret-mqtt-${index}`,
      grid,
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
  prepare: async (senders) => ({
    devices: Array.from({ length: senders }, (_, index) => ({
      id: `bench-sia-${index}`,
      name: `Bench alarm panel ${index}`,
      adapter: 'alarm-panel-cid',
      sia: { account: `BE${String(index).padStart(4, '0')}` },
      grid,
    })),
    open: async (ports) => {
      const panels = Array.from(
        { length: senders },
        (_, index) =>
          new AlarmPanelSimulator({
            host: '127.0.0.1',
            port: ports.sia,
            transport: 'tcp',
            account: `BE${String(index).padStart(4, '0')}`,
            answerTimeoutMs: 10_000,
            retries: 0,
          }),
      );
      return {
        name: 'sia-dc09',
        acknowledged: true,
        senders,
        send: async (sender) => {
          const report = await (panels[sender] as AlarmPanelSimulator).alarm(1);
          if (report.answer?.kind !== 'ACK') throw new Error(`answered ${report.answer?.kind ?? 'nothing'}`);
        },
        close: async () => {
          await Promise.all(panels.map((panel) => panel.stop()));
        },
      };
    },
  }),
};

const hikSecret = (index: number) => `bench-hik-${String(index).padStart(6, '0')}`;

/** Hikvision's listening host: a camera POSTs each motion alert (XML) to the device HTTP listener, Basic. */
const hikvisionPushDriver: DriverSpec = {
  name: 'hikvision push',
  prepare: async (senders) => ({
    devices: Array.from({ length: senders }, (_, index) => ({
      id: `bench-hikpush-${index}`,
      name: `Bench Hikvision pushing camera ${index}`,
      adapter: 'hikvision-isapi',
      serial: `BENCHHIKP${index}`,
      secret: hikSecret(index),
      grid,
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
      return {
        name: 'hikvision push',
        acknowledged: true,
        senders,
        send: async (sender) => {
          const camera = cameras[sender] as HikvisionSimulator;
          await camera.motion(true);
          const status = camera.pushes.at(-1)?.status;
          if (status !== 200) throw new Error(`answered ${status}`);
        },
        close: async () => {
          await Promise.all(cameras.map((camera) => camera.stop()));
        },
      };
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
      devices: cameras.map((camera, index) => ({
        id: `bench-hikstream-${index}`,
        name: `Bench Hikvision streaming camera ${index}`,
        adapter: 'hikvision-isapi',
        serial: `BENCHHIKS${index}`,
        http: { url: camera.url, username: 'admin', password: `bench-hik-stream-${index}` },
        grid,
      })),
      open: async () => ({
        name: 'hikvision stream',
        acknowledged: false,
        senders,
        send: (sender) => (cameras[sender] as HikvisionSimulator).motion(true),
        close: async () => {
          await Promise.all(cameras.map((camera) => camera.stop()));
        },
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
      devices: cameras.map((camera, index) => ({
        id: `bench-dahua-${index}`,
        name: `Bench Dahua camera ${index}`,
        adapter: 'dahua-cgi',
        serial: `BENCHDAHUA${index}`,
        http: { url: camera.url, username: 'admin', password: `bench-dahua-${index}` },
        grid,
      })),
      open: async () => {
        await Promise.all(cameras.map((camera) => camera.waitForAttach()));
        return {
          name: 'dahua stream',
          acknowledged: false,
          senders,
          send: (sender) => {
            on[sender] = !on[sender];
            return (cameras[sender] as DahuaSimulator).motion(on[sender] as boolean);
          },
          close: async () => {
            await Promise.all(cameras.map((camera) => camera.stop()));
          },
        };
      },
    };
  },
};

/** ZKTeco ADMS: an access terminal uploads each denied card as an rtlog record (one per POST), answered OK. */
const zktecoDriver: DriverSpec = {
  name: 'zkteco adms',
  prepare: async (senders) => ({
    devices: Array.from({ length: senders }, (_, index) => ({
      id: `bench-zk-${index}`,
      name: `Bench ZKTeco terminal ${index}`,
      adapter: 'zkteco-adms',
      serial: `BENCHZK${index}`,
      grid,
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
      return {
        name: 'zkteco adms',
        acknowledged: true,
        senders,
        send: async (sender) => {
          const answer = await (terminals[sender] as ZktecoTerminal).swipe('99999999', false);
          if (answer.status !== 200) throw new Error(`answered ${answer.status}`);
        },
        close: async () => {
          await Promise.all(terminals.map((terminal) => terminal.stop()));
        },
      };
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
];
