import { fork } from 'node:child_process';
import { Agent, request } from 'node:http';
import path from 'node:path';
import { connectAsync } from 'mqtt';
import { HikvisionSimulator } from '../simulators/hikvision/hikvision-device.ts';
import { benchDevices } from './deployment.ts';

/**
 * `npm run bench -- --connectors` (BENCH_CONNECTOR_EVENTS=N, default 3000): the hub's CPU time per ingested event for
 * each connector, beside MQTT, on one hub in a process of its own. Each phase sends N events that raise no incident
 * (the ingest alone: wire, frame, schema, decoder, event log) and waits until the hub has decoded them all:
 * - mqtt: gate frames (ACCESS_GRANTED) from 20 gates, QoS 1, each acknowledged;
 * - hikvision push: EventNotificationAlert XML POSTed to the device HTTP listener, Basic, 16 at a time;
 * - hikvision stream: alerts (VMD inactive) on an alert stream the hub follows (the simulator writes them).
 * The load runs in this process; the CPU measured is the hub's own (process.cpuUsage of its process, every thread).
 */

const pushSecret = 'bench-hik-push-01';
const events = Math.max(100, Math.min(100_000, Number(process.env.BENCH_CONNECTOR_EVENTS) || 3000));

interface CpuReport {
  readonly usage: NodeJS.CpuUsage;
  readonly decoded: Record<string, number>;
}

export async function runConnectorBench(): Promise<void> {
  const camera = new HikvisionSimulator({
    kind: 'camera',
    username: 'admin',
    password: 'bench-hik-stream',
    partGapMs: 0,
    keepaliveMs: 10_000,
  });
  await camera.start();
  const child = fork(path.join(import.meta.dirname, 'connector-hub.ts'), [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, BENCH_HIK_STREAM_URL: camera.url, BENCH_HIK_PUSH_SECRET: pushSecret },
  });
  const ready = await new Promise<{ mqttPort: number; deviceHttpPort: number; topicBase: string }>(
    (resolve) =>
      child.on('message', (message: { type: string }) => {
        if (message.type === 'ready') resolve(message as never);
      }),
  );
  const cpu = (): Promise<CpuReport> =>
    new Promise((resolve) => {
      const onMessage = (message: { type: string }) => {
        if (message.type !== 'cpu') return;
        child.off('message', onMessage);
        resolve(message as unknown as CpuReport);
      };
      child.on('message', onMessage);
      child.send({ type: 'cpu' });
    });
  const until = async (deviceIds: readonly string[], total: number): Promise<CpuReport> => {
    for (;;) {
      const report = await cpu();
      if (deviceIds.reduce((sum, id) => sum + (report.decoded[id] ?? 0), 0) >= total) return report;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  const costOf = (before: CpuReport, after: CpuReport): number =>
    (after.usage.user + after.usage.system - before.usage.user - before.usage.system) / events;
  const rows: { connector: string; microsPerEvent: number; seconds: number }[] = [];
  const measure = async (connector: string, deviceIds: readonly string[], send: () => Promise<void>) => {
    const before = await until(deviceIds, 0);
    const already = deviceIds.reduce((sum, id) => sum + (before.decoded[id] ?? 0), 0);
    const started = performance.now();
    await send();
    const after = await until(deviceIds, already + events);
    rows.push({
      connector,
      microsPerEvent: costOf(before, after),
      seconds: (performance.now() - started) / 1000,
    });
  };

  try {
    await until(['bench-hik-stream'], 0);
    while (camera.openStreams === 0) await new Promise((resolve) => setTimeout(resolve, 20));

    const gates = benchDevices(0)
      .devices.filter((device) => device.family === 'gate')
      .slice(0, 20);
    const clients = await Promise.all(
      gates.map((gate) =>
        connectAsync(`mqtt://127.0.0.1:${ready.mqttPort}`, {
          clientId: gate.id,
          username: gate.id,
          password: gate.secret,
        }),
      ),
    );
    let seq = 0;
    await measure(
      'mqtt',
      gates.map((gate) => gate.id),
      async () => {
        const pending: Promise<unknown>[] = [];
        for (let n = 0; n < events; n++) {
          const gate = gates[n % gates.length] as (typeof gates)[number];
          const frame = {
            seq: seq++,
            time: new Date().toISOString(),
            event: 'ACCESS_GRANTED',
            door: 1,
            direction: 'in',
            credential: { type: 'card', number: '3302789145' },
          };
          pending.push(
            (clients[n % clients.length] as (typeof clients)[number]).publishAsync(
              `${ready.topicBase}/devices/${gate.id}/events`,
              JSON.stringify(frame),
              { qos: 1 },
            ),
          );
          if (pending.length >= 200) await Promise.all(pending.splice(0));
        }
        await Promise.all(pending);
      },
    );
    await Promise.all(clients.map((client) => client.endAsync()));

    const agent = new Agent({ keepAlive: true, maxSockets: 16 });
    const authorization = `Basic ${Buffer.from(`bench-hik-push:${pushSecret}`).toString('base64')}`;
    const push = (body: string): Promise<number> =>
      new Promise((resolve, reject) => {
        const req = request(
          {
            host: '127.0.0.1',
            port: ready.deviceHttpPort,
            path: '/hikvision/alarm',
            method: 'POST',
            agent,
            headers: {
              'content-type': 'application/xml',
              'content-length': Buffer.byteLength(body),
              authorization,
            },
          },
          (response) => {
            response.resume();
            response.on('end', () => resolve(response.statusCode ?? 0));
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    await measure('hikvision push', ['bench-hik-push'], async () => {
      const alert = (n: number) =>
        `<?xml version="1.0" encoding="UTF-8"?>\n<EventNotificationAlert version="2.0" xmlns="http://www.hikvision.com/ver20/XMLSchema">\n<ipAddress>10.0.0.31</ipAddress>\n<portNo>80</portNo>\n<protocol>HTTP</protocol>\n<macAddress>44:19:b6:00:00:31</macAddress>\n<channelID>${(n % 4) + 1}</channelID>\n<dateTime>${new Date().toISOString().slice(0, 19)}+00:00</dateTime>\n<activePostCount>1</activePostCount>\n<eventType>regionExiting</eventType>\n<eventState>active</eventState>\n<eventDescription>regionExiting alarm</eventDescription>\n</EventNotificationAlert>\n`;
      let next = 0;
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          while (next < events) {
            const status = await push(alert(next++));
            if (status !== 200) throw new Error(`push answered ${status}`);
          }
        }),
      );
    });
    agent.destroy();

    await measure('hikvision stream', ['bench-hik-stream'], async () => {
      for (let n = 0; n < events; n++) await camera.motion(false, (n % 4) + 1);
    });
  } finally {
    child.send({ type: 'stop' });
    await new Promise((resolve) => child.once('exit', resolve));
    await camera.stop();
  }
  process.stdout.write(`Ingest cost per event (hub CPU time, all its threads), ${events} events each:\n`);
  for (const row of rows) {
    process.stdout.write(
      `  ${row.connector.padEnd(17)} ${row.microsPerEvent.toFixed(0).padStart(6)} µs/event  (${(events / row.seconds).toFixed(0)} events/s offered back to back)\n`,
    );
  }
}
