import { connect, type MqttClient } from 'mqtt';
import { AlarmPanelSimulator } from '../simulators/alarm-panel/alarm-panel.ts';

/**
 * One driver per connector for bench/connectors.ts: devices of that protocol sending one event at a time on the
 * protocol's real wire, each send resolving when the hub acknowledged it (PUBACK, DC-09 ACK, an HTTP 200) — the
 * point at which the event is committed. Every driver sends the same kind of event, an alarm of one device that
 * folds into the device's open incident after the first, so the drivers differ only by their wire.
 */

export interface HubPorts {
  readonly mqtt: number;
  readonly deviceHttp: number;
  readonly sia: number;
}

export interface ConnectorDriver {
  readonly name: string;
  /** How many devices send: at most one event in flight each, as the protocols' devices do. */
  readonly senders: number;
  /** Sends the next event of device `sender`; resolves when the hub acknowledged it. */
  send(sender: number): Promise<void>;
  close(): Promise<void>;
}

export interface DriverSpec {
  readonly name: string;
  /** The devices the hub must know for this driver (config descriptions). */
  readonly devices: (senders: number) => Record<string, unknown>[];
  readonly open: (ports: HubPorts, senders: number) => Promise<ConnectorDriver>;
}

const grid = 'grid-xijiao-01';

/** MQTT, the hub's own dialect: a gate reporting a denied card at QoS 1. */
const mqttDriver: DriverSpec = {
  name: 'mqtt',
  devices: (senders) =>
    Array.from({ length: senders }, (_, index) => ({
      id: `bench-mqtt-${index}`,
      name: `Bench MQTT gate ${index}`,
      adapter: 'gate-access',
      secret: `bench-secret-mqtt-${index}`,
      grid,
    })),
  open: async (ports, senders) => {
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
};

/** SIA DC-09 over TCP, Contact ID in the clear: a one-key alarm pillar reporting a burglary zone alarm. */
const siaDriver: DriverSpec = {
  name: 'sia-dc09',
  devices: (senders) =>
    Array.from({ length: senders }, (_, index) => ({
      id: `bench-sia-${index}`,
      name: `Bench alarm panel ${index}`,
      adapter: 'alarm-panel-cid',
      sia: { account: `BE${String(index).padStart(4, '0')}` },
      grid,
    })),
  open: async (ports, senders) => {
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
};

export const drivers: readonly DriverSpec[] = [mqttDriver, siaDriver];
