import mqtt from 'mqtt';
import { DahuaSimulator } from '../simulators/dahua/dahua-simulator.ts';

/**
 * The device side of bench/connector-cost.ts, in a process of its own so that the hub's process measures only the
 * hub: a Dahua simulator the hub attaches to, and an MQTT gate publishing to the hub's broker. Driven over IPC:
 * `{run: 'dahua' | 'mqtt', count, rate, …}` sends `count` events at `rate` per second, each the protocol's real wire
 * form of an event no rule raises an incident for (ingest alone: decode, event log, bus).
 */

type Command =
  | { readonly run: 'dahua'; readonly count: number; readonly rate: number }
  | {
      readonly run: 'mqtt';
      readonly count: number;
      readonly rate: number;
      readonly url: string;
      readonly deviceId: string;
      readonly secret: string;
    }
  | { readonly run: 'stop' };

const send = (message: unknown): void => {
  process.send?.(message);
};

const sim = new DahuaSimulator({ username: 'admin', password: 'bench-dahua', serialNumber: 'BENCH-DAHUA-1' });
await sim.start();
send({ ready: sim.url });
void sim.waitForAttach().then(() => send({ attached: true }));

/** Calls `emit` `count` times at `rate` per second, several per timer turn above 1,000/s. */
async function paced(count: number, rate: number, emit: (n: number) => void): Promise<void> {
  const perTurn = Math.max(1, Math.round(rate / 1000));
  let sent = 0;
  await new Promise<void>((done) => {
    const timer = setInterval(
      () => {
        for (let index = 0; index < perTurn && sent < count; index++) emit(sent++);
        if (sent >= count) {
          clearInterval(timer);
          done();
        }
      },
      Math.max(1, Math.round((1000 * perTurn) / rate)),
    );
  });
}

process.on('message', async (command: Command) => {
  if (command.run === 'stop') {
    await sim.stop();
    process.exit(0);
  }
  if (command.run === 'dahua') {
    await paced(command.count, command.rate, () => void sim.event('VideoMotion', 'Stop', 0));
    send({ sent: command.count });
    return;
  }
  const client = await mqtt.connectAsync(command.url, {
    clientId: command.deviceId,
    username: command.deviceId,
    password: command.secret,
  });
  const time = new Date().toISOString();
  await paced(command.count, command.rate, (seq) => {
    const frame = {
      seq,
      time,
      event: 'ACCESS_GRANTED',
      door: 1,
      direction: 'in',
      credential: { type: 'card', number: '6222020012345678' },
    };
    void client.publishAsync(`gridhub/devices/${command.deviceId}/events`, JSON.stringify(frame), { qos: 1 });
  });
  send({ sent: command.count });
  await client.endAsync();
});
