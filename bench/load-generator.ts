import { connect, type MqttClient } from 'mqtt';
import type { BenchDevice, Family } from './deployment.ts';

/**
 * Simulated devices over MQTT, written straight with mqtt.js (no per-publish await): each device connects with
 * its own id and secret, and frames are the families' real wire formats (`{seq, time, event, …}` on
 * `gridhub/devices/<id>/events`). Offered rate R is spread round-robin over the active devices; QoS 1, and a
 * publish counts as ingested when its PUBACK arrives. Everything is bounded: in-flight messages (past the cap
 * the offered message is shed and counted), phase duration, and the drain after a phase.
 */
export type GeneratorCommand =
  | { type: 'connect'; url: string; devices: BenchDevice[]; heartbeatSeconds: number }
  | {
      type: 'run';
      rate: number;
      seconds: number;
      active: number;
      maxInflight: number;
      /** Seconds at the rate before the measured window: `settled` is sent when they are over. */
      settleSeconds?: number;
      /**
       * `repeat`: every frame an ACCESS_DENIED from the first `active` gates, so each folds into its device's open
       * incident (issue #22's repeat path); `realistic` (the default): the weighted mix below.
       */
      mix?: 'realistic' | 'repeat';
      /** Ignores `rate`: keeps `maxInflight` publishes in flight, one more sent at each PUBACK, for the whole time. */
      closedLoop?: boolean;
    }
  | { type: 'stop' };

export interface RunResult {
  readonly type: 'done';
  readonly rate: number;
  readonly offered: number;
  readonly sent: number;
  readonly acked: number;
  readonly shed: number;
  readonly errors: number;
  /** Seconds from the first publish to the last PUBACK counted. */
  readonly seconds: number;
  readonly ackedInWindow: number;
}

interface Device {
  readonly id: string;
  readonly family: Family;
  readonly client: MqttClient;
  readonly topic: string;
  seq: number;
  readonly bootedAt: number;
}

const devices: Device[] = [];
const heartbeats: NodeJS.Timeout[] = [];

/** A weighted mix of what gates and sentry boxes really send; repeats of the same device dedupe. */
const gateMix: [number, () => Record<string, unknown>][] = [
  [
    45,
    () => ({
      event: 'ACCESS_GRANTED',
      door: 1,
      direction: 'in',
      credential: { type: 'card', number: '10000001' },
    }),
  ],
  [
    20,
    () => ({
      event: 'ACCESS_DENIED',
      door: 1,
      direction: 'in',
      credential: { type: 'card', number: '99999999' },
      reason: 'UNKNOWN_CREDENTIAL',
    }),
  ],
  [10, () => ({ event: 'DOOR_HELD_OPEN', door: 1, heldSeconds: 120 })],
  [12, () => ({ event: 'VEHICLE_ENTRY', lane: 1, plate: '京A12345', barrier: 'opened' })],
  [6, () => ({ event: 'VEHICLE_EXIT', lane: 1, plate: '京A12345', barrier: 'opened' })],
  [3, () => ({ event: 'TAILGATING', door: 1, direction: 'in', followers: 1 })],
  [2, () => ({ event: 'DOOR_FORCED_OPEN', door: 2 })],
  [
    1,
    () => ({
      event: 'ANTI_PASSBACK',
      door: 1,
      direction: 'in',
      credential: { type: 'card', number: '10000001' },
    }),
  ],
  [1, () => ({ event: 'BLACKLIST_MATCH', door: 1, credential: { type: 'plate', number: '京A66666' } })],
];
const sentryMix: [number, () => Record<string, unknown>][] = [
  [40, () => ({ event: 'CHECK_IN', guard: 'G-0107' })],
  [25, () => ({ event: 'ZONE_ALARM', zone: 1, zoneType: 'pir' })],
  [15, () => ({ event: 'BATTERY_LOW', percent: 18 })],
  [10, () => ({ event: 'ARMED', by: 'keypad' })],
  [8, () => ({ event: 'DISARMED', by: 'keypad' })],
  [2, () => ({ event: 'PANIC', duress: false })],
];

function picker(mix: [number, () => Record<string, unknown>][]): () => Record<string, unknown> {
  const total = mix.reduce((sum, [weight]) => sum + weight, 0);
  return () => {
    let roll = Math.random() * total;
    for (const [weight, make] of mix) {
      roll -= weight;
      if (roll < 0) return make();
    }
    return (mix[0] as [number, () => Record<string, unknown>])[1]();
  };
}
const nextGate = picker(gateMix);
const nextSentry = picker(sentryMix);

const repeatDenied = (): Record<string, unknown> => ({
  event: 'ACCESS_DENIED',
  door: 1,
  direction: 'in',
  credential: { type: 'card', number: '99999999' },
  reason: 'UNKNOWN_CREDENTIAL',
});

function frame(device: Device, mix: 'realistic' | 'repeat' = 'realistic'): string {
  device.seq = (device.seq + 1) % 2 ** 32;
  const fields = mix === 'repeat' ? repeatDenied() : device.family === 'gate' ? nextGate() : nextSentry();
  return JSON.stringify({ seq: device.seq, time: new Date().toISOString(), ...fields });
}

function heartbeat(device: Device): string {
  device.seq = (device.seq + 1) % 2 ** 32;
  const time = new Date().toISOString();
  const uptimeSeconds = Math.floor((Date.now() - device.bootedAt) / 1000);
  return device.family === 'gate'
    ? JSON.stringify({
        seq: device.seq,
        time,
        uptimeSeconds,
        doors: [
          { door: 1, closed: true, locked: true },
          { door: 2, closed: true, locked: true },
        ],
      })
    : JSON.stringify({ seq: device.seq, time, armed: false, mains: true, batteryPercent: 90, siren: false });
}

async function connectAll(url: string, list: BenchDevice[], heartbeatSeconds: number): Promise<void> {
  const started = performance.now();
  let failed = 0;
  const one = (spec: BenchDevice): Promise<void> =>
    new Promise((resolve) => {
      const client = connect(url, {
        clientId: spec.id,
        username: spec.id,
        password: spec.secret,
        clean: true,
        reconnectPeriod: 0,
        connectTimeout: 20_000,
        keepalive: 60,
      });
      const device: Device = {
        id: spec.id,
        family: spec.family,
        client,
        topic: `gridhub/devices/${spec.id}/events`,
        seq: 0,
        bootedAt: Date.now(),
      };
      client.once('connect', () => {
        // BENCH_NODELAY=1: devices that turn Nagle off (most embedded MQTT stacks leave it on).
        if (process.env.BENCH_NODELAY === '1')
          (client.stream as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
        devices.push(device);
        client.publish(`gridhub/devices/${spec.id}/status`, '{"state":"online"}', { qos: 1, retain: true });
        resolve();
      });
      client.once('error', () => {
        failed += 1;
        client.end(true);
        resolve();
      });
      client.on('error', () => undefined);
    });
  // Bounded concurrency: 100 handshakes at a time.
  for (let done = 0; done < list.length; done += 100) {
    await Promise.all(list.slice(done, done + 100).map(one));
  }
  if (heartbeatSeconds > 0) {
    // Idle devices still prove they live, spread evenly over the interval.
    const slice = Math.max(1, Math.ceil(devices.length / (heartbeatSeconds * 10)));
    let cursor = 0;
    const timer = setInterval(() => {
      for (let index = 0; index < slice && devices.length > 0; index += 1) {
        const device = devices[cursor % devices.length] as Device;
        cursor += 1;
        if (device.client.connected)
          device.client.publish(`gridhub/devices/${device.id}/heartbeat`, heartbeat(device), { qos: 0 });
      }
    }, 100);
    heartbeats.push(timer);
  }
  process.send?.({ type: 'connected', connected: devices.length, failed, ms: performance.now() - started });
}

/**
 * Publishes at `rate` for `settleSeconds` and then `seconds` without a break: the first part brings the server to
 * the rate (its queues, heap and caches), and is not counted; `settled` tells the parent the measured window opens.
 */
async function run(
  rate: number,
  seconds: number,
  active: number,
  maxInflight: number,
  settleSeconds: number,
  mix: 'realistic' | 'repeat' = 'realistic',
  closedLoop = false,
): Promise<void> {
  const eligible = mix === 'repeat' ? devices.filter((device) => device.family === 'gate') : devices;
  const publishers = eligible.slice(0, Math.max(1, Math.min(active, eligible.length)));
  /** Offered since the pacing started, settling included. */
  let offeredAll = 0;
  /** `offeredAll` when the measured window opened. */
  let offeredBefore = 0;
  let sent = 0;
  let acked = 0;
  let ackedInWindow = 0;
  let shed = 0;
  let errors = 0;
  let inflight = 0;
  let cursor = 0;
  let lastAckAt = 0;
  const paced = performance.now();
  const windowStart = paced + settleSeconds * 1000;
  const durationMs = seconds * 1000;
  const end = windowStart + durationMs;
  let settling = settleSeconds > 0;
  let windowOpen = !settling;
  const onAck = (error?: Error): void => {
    inflight -= 1;
    if (error) {
      errors += 1;
      return;
    }
    acked += 1;
    if (windowOpen) ackedInWindow += 1;
    lastAckAt = performance.now();
    if (closedLoop && lastAckAt < end) publishOne();
  };
  const publishOne = (): void => {
    const device = publishers[cursor % publishers.length] as Device;
    cursor += 1;
    if (!device.client.connected) {
      errors += 1;
      return;
    }
    inflight += 1;
    sent += 1;
    device.client.publish(device.topic, frame(device, mix), { qos: 1 }, onAck);
  };
  if (closedLoop) for (let index = 0; index < maxInflight; index += 1) publishOne();
  let lastProgress = paced;
  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const now = performance.now();
      if (settling && now >= windowStart) {
        // The window opens: what was offered and acknowledged so far was the settling's. The pacing goes on.
        settling = false;
        windowOpen = true;
        offeredBefore = offeredAll;
        sent = 0;
        acked = 0;
        shed = 0;
        errors = 0;
        process.send?.({ type: 'settled' });
      }
      // Closed loop: what was sent is what was offered; the acknowledgements pace it.
      const due = closedLoop ? offeredAll : Math.floor((rate * (Math.min(now, end) - paced)) / 1000);
      if (closedLoop) offeredAll = offeredBefore + sent;
      // At most one second's worth per tick, so a stalled loop cannot burst unboundedly.
      const burst = Math.min(due - offeredAll, rate);
      for (let index = 0; index < burst; index += 1) {
        offeredAll += 1;
        if (inflight >= maxInflight) {
          shed += 1;
          continue;
        }
        publishOne();
      }
      if (now - lastProgress >= 1000) {
        lastProgress = now;
        const elapsed = (Math.min(now, end) - windowStart) / 1000;
        const offered = offeredAll - offeredBefore;
        process.send?.({ type: 'progress', elapsed, offered, acked, inflight, shed });
      }
      if (now >= end) {
        windowOpen = false;
        clearInterval(tick);
        resolve();
      }
    }, 5);
  });
  // Drain: wait for outstanding PUBACKs, at most 5 s.
  const drainUntil = performance.now() + 5_000;
  while (inflight > 0 && performance.now() < drainUntil)
    await new Promise((resolve) => setTimeout(resolve, 20));
  const result: RunResult = {
    type: 'done',
    rate,
    offered: offeredAll - offeredBefore,
    sent,
    acked,
    shed: shed + inflight,
    errors,
    seconds: Math.max(durationMs, lastAckAt - windowStart) / 1000,
    ackedInWindow,
  };
  process.send?.(result);
}

function stop(): void {
  for (const timer of heartbeats) clearInterval(timer);
  for (const device of devices) device.client.end(true);
  setTimeout(() => process.exit(0), 200).unref();
}

process.on('message', (command: GeneratorCommand) => {
  if (command.type === 'connect') void connectAll(command.url, command.devices, command.heartbeatSeconds);
  if (command.type === 'run')
    void run(
      command.rate,
      command.seconds,
      command.active,
      command.maxInflight,
      command.settleSeconds ?? 0,
      command.mix,
      command.closedLoop,
    );
  if (command.type === 'stop') stop();
});
process.once('disconnect', stop);
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
process.send?.({ type: 'alive' });
