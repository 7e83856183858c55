import { isDeepStrictEqual } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttDevice, MqttDeviceOptions } from '../../simulators/shared/mqtt-device.ts';
import type { Deployment } from '../../src/config/load.ts';
import { type DeviceAdapter, livenessEvents } from '../../src/core/adapter.ts';
import type { ResolvedDevice } from '../../src/core/device.ts';
import type { DeviceEvent } from '../../src/core/device-event.ts';
import type { DeviceStatus } from '../../src/core/device-status.ts';
import { type Incident, type IncidentChange, isOpen } from '../../src/core/incident.ts';
import type { DeadLetter, RefusalReason } from '../../src/core/refusals.ts';
import type { DeviceChannel } from '../../src/core/topics.ts';
import {
  connectClient,
  eventually,
  getJson,
  metricValue,
  postJson,
  type RecordingClient,
  startTestHub,
  type TestHub,
} from '../helpers/hub.ts';

/**
 * The conformance kit: one suite that every device adapter runs against its own simulator, through a real hub
 * (real MQTT, real Socket.IO, real HTTP, on loopback). The fixture tables under test/devices prove a decoder
 * against frames written by hand; this proves the adapter against the simulator, an independent description of
 * the device that never imports the adapter, and proves the wire around it: liveness, refusals, commands and
 * watchdogs, as an integrator's device will meet them.
 *
 * A profile is data: the adapter, how to make its simulator, one device of the family in a deployment, and the
 * cases. Within one hub the checks run in order against one simulator: scenarios, then malformed payloads, then
 * commands; a profile may rely on that order (a panel armed by a scenario is disarmed by a later one).
 */

/** A normalized event as a scenario expects it on the hub's bus. */
export interface ExpectedEvent {
  readonly type: string;
  readonly attributes: Readonly<Record<string, unknown>>;
}

/** One thing the device does, driven through the simulator's public methods, and what the hub must make of it. */
export interface ConformanceScenario<Sim> {
  /** Reads as what the device does: "a card opens door 1". */
  readonly name: string;
  readonly act: (sim: Sim) => Promise<unknown>;
  /** The one event the act decodes to; null when it must decode to none (a heartbeat). */
  readonly expect: ExpectedEvent | null;
  /** A resident's identifier or a secret the act puts on the wire, which must never come out of the hub. */
  readonly identifier?: string;
}

/** A payload the hub must refuse, sent raw by the simulator. */
export interface MalformedPayload {
  readonly name: string;
  readonly payload: string | Buffer;
  /** The channel it is sent on; `events` when not given. */
  readonly channel?: Exclude<DeviceChannel, 'commands'>;
  readonly reason: Extract<RefusalReason, 'schema' | 'not_json' | 'oversized'>;
  /**
   * How one of the dead letter's problems begins: `door: ` for a schema issue at `door`, `(root): ` for one of
   * the frame itself, `not valid JSON`, or `<n> bytes, the limit is <max>`.
   */
  readonly problem: string;
}

/** A command sent through `POST /api/devices/:id/commands/:command`, and the device's answer. */
export interface CommandCase {
  readonly command: string;
  readonly params: Readonly<Record<string, unknown>>;
  readonly expectOk: boolean;
  /** The device's reason when it refuses; when not given, a refusal must carry none. */
  readonly expectError?: string;
}

export interface ConformanceProfile<Sim extends MqttDevice> {
  readonly adapter: DeviceAdapter;
  /** Makes the family's simulator; the kit chooses the broker, the clock and the heartbeat. */
  readonly simulator: (options: MqttDeviceOptions) => Sim;
  /** A device of this family in `deployment`. */
  readonly deviceId: string;
  readonly secret: string;
  /**
   * The hub's deployment, with the device's `offlineAfterSeconds` and each of its watchdogs shortened to a few
   * seconds (1 is right), and rules in which `device.offline` is cleared by `device.online` and each watchdog's
   * event by its reset event.
   */
  readonly deployment: Deployment;
  /** Together, every event the adapter declares that the device itself emits. */
  readonly scenarios: readonly ConformanceScenario<Sim>[];
  /** At least one of each reason: schema, not_json and oversized. */
  readonly malformed: readonly MalformedPayload[];
  /** Every command the adapter declares, at least once. */
  readonly commands: readonly CommandCase[];
  /** The events the adapter's watchdogs raise: every one of them. */
  readonly watchdogs: readonly string[];
  /** Receives the incidents: a duty officer whose scope holds the device. */
  readonly officerToken?: string;
  /** Reads dead letters and sends commands. */
  readonly adminToken?: string;
}

/** The simulator's pinned clock: every frame carries this time, so `occurredAt` is known exactly. */
const deviceTime = '2026-11-22T01:30:00.000Z';
/** Heartbeats often enough that a device with a one-second threshold never looks silent while it is not. */
const chattyHeartbeatSeconds = 0.2;
/** Longer than this and the liveness and watchdog checks would take too long to be worth running. */
const longestShortThresholdMs = 5_000;
const waitMs = 10_000;

const refusalReasonsCovered = ['not_json', 'oversized', 'schema'] as const;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Waits for the first push of an event that matches, from the `from`-th (0-based) push of it on. */
export async function arrival<Payload>(
  client: RecordingClient,
  event: 'incident:new' | 'incident:update' | 'device:status',
  what: string,
  match: (payload: Payload) => boolean,
  from = 0,
): Promise<Payload> {
  let found: Payload | undefined;
  try {
    await eventually(() => {
      found = (client.of(event).slice(from) as Payload[]).find(match);
      return found !== undefined;
    }, waitMs);
  } catch {
    throw new Error(`no ${event} for ${what} within ${waitMs} ms`);
  }
  return found as Payload;
}

export function describeConformance<Sim extends MqttDevice>(profile: ConformanceProfile<Sim>): void {
  const { adapter, deviceId, secret, deployment } = profile;
  const officerToken = profile.officerToken ?? 'demo-officer-qinghe';
  const adminToken = profile.adminToken ?? 'demo-admin';
  const watchdogs = adapter.watchdogs ?? [];
  /** Events the hub raises about the device rather than decodes from it. */
  const raisedByHub = new Set([
    ...Object.keys(livenessEvents),
    ...watchdogs.map((watchdog) => watchdog.raises),
  ]);
  const device = deployment.devices.find((candidate) => candidate.id === deviceId);
  const ruleFor = (type: string) => deployment.rules.find((rule) => rule.event === type);
  const producing = (type: string) => profile.scenarios.find((scenario) => scenario.expect?.type === type);

  /** A hub with the deployment, the officer listening and the simulator connected, chatty. */
  function liveHub(): {
    readonly hub: () => TestHub;
    readonly officer: () => RecordingClient;
    readonly sim: () => Sim;
    readonly status: () => Promise<DeviceStatus>;
  } {
    let hub: TestHub | undefined;
    let officer: RecordingClient | undefined;
    let sim: Sim | undefined;
    const need = <T>(value: T | undefined, what: string): T => {
      if (value === undefined) throw new Error(`the ${what} did not start`);
      return value;
    };
    beforeAll(async () => {
      hub = await startTestHub({ deployment, livenessSweepMs: 50 });
      officer = await connectClient(hub.httpUrl, officerToken);
      sim = profile.simulator({
        url: hub.mqttUrl,
        deviceId,
        secret,
        clock: () => new Date(deviceTime),
        heartbeatSeconds: chattyHeartbeatSeconds,
      });
      await sim.start();
    });
    afterAll(async () => {
      officer?.close();
      await sim?.stop();
      await hub?.stop();
    });
    return {
      hub: () => need(hub, 'hub'),
      officer: () => need(officer, 'officer'),
      sim: () => need(sim, 'simulator'),
      status: async () => {
        const { status, body } = await getJson(
          `${need(hub, 'hub').httpUrl}/api/devices/${deviceId}`,
          adminToken,
        );
        expect(status).toBe(200);
        return (body as { status: DeviceStatus }).status;
      },
    };
  }

  describe(`${adapter.id} conforms`, () => {
    describe('its profile', () => {
      it('covers every event the device emits with a scenario, and expects only events the adapter declares', () => {
        const covered = new Set(profile.scenarios.flatMap((scenario) => scenario.expect?.type ?? []));
        const emitted = Object.keys(adapter.events).filter((type) => !raisedByHub.has(type));
        expect([...covered].sort()).toEqual(emitted.sort());
      });

      it('expects only attributes the adapter declares for each event', () => {
        for (const { name, expect: expected } of profile.scenarios) {
          if (expected === null) continue;
          const declared = adapter.events[expected.type]?.attributes ?? [];
          for (const attribute of Object.keys(expected.attributes))
            expect(declared, name).toContain(attribute);
        }
      });

      it('round-trips every command the adapter declares, and only those', () => {
        const covered = new Set(profile.commands.map((command) => command.command));
        expect([...covered].sort()).toEqual(Object.keys(adapter.commands).sort());
        expect(profile.commands.some((command) => command.expectOk)).toBe(true);
      });

      it('exercises every watchdog the adapter declares, each reset by an event a scenario produces', () => {
        expect([...profile.watchdogs].sort()).toEqual(watchdogs.map((watchdog) => watchdog.raises).sort());
        for (const watchdog of watchdogs) expect(producing(watchdog.resetBy), watchdog.resetBy).toBeDefined();
      });

      it('sends malformed payloads of every kind the hub refuses: schema, not_json and oversized', () => {
        const reasons = new Set(profile.malformed.map((payload) => payload.reason));
        expect([...reasons].sort()).toEqual([...refusalReasonsCovered]);
      });

      it('runs a device of this adapter with short thresholds, and rules that clear offline and missed duties', () => {
        expect(device, `${deviceId} in the deployment`).toBeDefined();
        const resolved = device as ResolvedDevice;
        expect(resolved.adapter.id).toBe(adapter.id);
        expect(resolved.offlineAfterMs).toBeLessThanOrEqual(longestShortThresholdMs);
        for (const watchdog of resolved.watchdogs) {
          expect(watchdog.afterMs, watchdog.raises).toBeLessThanOrEqual(longestShortThresholdMs);
          expect(ruleFor(watchdog.raises)?.clearedBy, watchdog.raises).toBe(watchdog.resetBy);
        }
        expect(ruleFor('device.offline')?.clearedBy).toBe('device.online');
      });
    });

    describe('through a real hub: events, refusals and commands', () => {
      const live = liveHub();
      const events: DeviceEvent[] = [];
      const refusals: DeadLetter[] = [];
      const unsubscribe: (() => void)[] = [];

      beforeAll(() => {
        const { bus } = live.hub().hub;
        unsubscribe.push(
          bus.on('device:event', (event) => events.push(event)),
          bus.on('message:refused', (deadLetter) => refusals.push(deadLetter)),
        );
      });
      afterAll(() => {
        for (const stop of unsubscribe) stop();
      });

      for (const scenario of profile.scenarios) {
        const outcome = scenario.expect === null ? 'no event' : scenario.expect.type;
        it(`decodes "${scenario.name}" into ${outcome}, for ${deviceId}`, async () => {
          const { httpUrl, logs } = live.hub();
          const officer = live.officer();
          const fromEvent = events.length;
          const fromRefusal = refusals.length;
          const fromIncident = officer.of('incident:new').length;
          const decodedBefore = await metricValue(httpUrl, 'gridhub_events_decoded_total');

          // QoS 1: the hub acknowledges a frame only once it is decoded and stored, so when the act resolves,
          // every event of its frame is on the bus (and every refusal).
          await scenario.act(live.sim());

          expect(refusals.slice(fromRefusal), 'refused messages').toEqual([]);
          // An event's key (its redelivery identity, from the frame's envelope) is the hub's, not the adapter's.
          const decoded = events
            .slice(fromEvent)
            .filter((event) => !raisedByHub.has(event.type))
            .map(({ key: _key, ...event }) => event);
          const expected = scenario.expect;
          expect(decoded).toEqual(
            expected === null
              ? []
              : [
                  {
                    deviceId,
                    type: expected.type,
                    occurredAt: Date.parse(deviceTime),
                    attributes: expected.attributes,
                  },
                ],
          );
          expect(await metricValue(httpUrl, 'gridhub_events_decoded_total')).toBe(
            decodedBefore + decoded.length,
          );

          // The first event of a type with a rule raises an incident; a later one may be merged into it while
          // it is open (the hub's dedupe), which is the rules' business, not the adapter's.
          const rule = expected === null ? undefined : ruleFor(expected.type);
          let incident: Incident | undefined;
          if (expected !== null && rule !== undefined && producing(expected.type) === scenario) {
            incident = await arrival<Incident>(
              officer,
              'incident:new',
              expected.type,
              (candidate) =>
                candidate.device.id === deviceId &&
                candidate.event.type === expected.type &&
                isDeepStrictEqual(candidate.event.attributes, expected.attributes),
              fromIncident,
            );
            expect(isOpen(incident.state), incident.state).toBe(true);
            expect(incident).toMatchObject({
              title: rule.title,
              category: rule.category,
              severity: rule.severity,
              device: { id: deviceId, adapter: adapter.id },
              event: { occurredAt: deviceTime },
            });
          }

          if (scenario.identifier !== undefined) {
            expect(JSON.stringify(decoded)).not.toContain(scenario.identifier);
            expect(JSON.stringify(incident ?? null)).not.toContain(scenario.identifier);
            expect(logs.text).not.toContain(scenario.identifier);
          }
        });
      }

      for (const malformed of profile.malformed) {
        const channel = malformed.channel ?? 'events';
        it(`refuses ${malformed.name} on ${channel} as ${malformed.reason}, counts it and keeps the device connected`, async () => {
          const { hub, httpUrl } = live.hub();
          const sim = live.sim();
          const metric = `gridhub_messages_refused_total{reason="${malformed.reason}"}`;
          const countedBefore = await metricValue(httpUrl, metric);
          const statusBefore = await live.status();
          const fromRefusal = refusals.length;
          const fromEvent = events.length;

          await sim.sendRaw(malformed.payload, channel);

          const refused = refusals.slice(fromRefusal);
          expect(refused.map((deadLetter) => deadLetter.reason)).toEqual([malformed.reason]);
          expect(events.slice(fromEvent).filter((event) => !raisedByHub.has(event.type))).toEqual([]);
          const { status, body } = await getJson(`${httpUrl}/api/dead-letters?limit=100`, adminToken);
          expect(status).toBe(200);
          const kept = (body as { deadLetters: DeadLetter[] }).deadLetters.find(
            (deadLetter) => deadLetter.id === refused[0]?.id,
          );
          expect(kept, 'the dead letter, read back through the API').toMatchObject({
            topic: sim.topic(channel),
            deviceId,
            reason: malformed.reason,
            payloadBytes: Buffer.byteLength(malformed.payload),
            problems: expect.arrayContaining([
              expect.stringMatching(new RegExp(`^${escapeRegExp(malformed.problem)}`)),
            ]),
          });
          expect(await metricValue(httpUrl, metric)).toBe(countedBefore + 1);

          // Connected throughout: the same online spell (a drop and reconnect would start a new one).
          expect(sim.connected).toBe(true);
          expect(hub.testHandle.broker.isConnected(deviceId)).toBe(true);
          const statusAfter = await live.status();
          expect(statusAfter.online).toBe(true);
          expect(statusAfter.since).toBe(statusBefore.since);
        });
      }

      for (const command of profile.commands) {
        const answer = command.expectOk
          ? 'ok'
          : `refused${command.expectError === undefined ? '' : ` with "${command.expectError}"`}`;
        it(`round-trips ${command.command} ${JSON.stringify(command.params)}, answered ${answer}`, async () => {
          const { status, body } = await postJson(
            `${live.hub().httpUrl}/api/devices/${deviceId}/commands/${command.command}`,
            adminToken,
            { params: command.params },
          );
          expect(status).toBe(200);
          expect(body).toEqual({
            requestId: expect.stringMatching(/^cmd_/),
            ok: command.expectOk,
            ...(command.expectError === undefined ? {} : { error: command.expectError }),
          });
        });
      }

      it('answers 504 device_timeout for a command the device does not answer', async () => {
        const [command] = profile.commands;
        if (command === undefined) throw new Error('the profile has no command');
        const sim = live.sim();
        sim.muteReplies();
        try {
          const { status, body } = await postJson(
            `${live.hub().httpUrl}/api/devices/${deviceId}/commands/${command.command}`,
            adminToken,
            { params: command.params, timeoutMs: 300 },
          );
          expect(status).toBe(504);
          expect(body).toEqual({ error: { code: 'device_timeout', message: expect.any(String) } });
          expect(live.hub().testHandle.broker.isConnected(deviceId)).toBe(true);
        } finally {
          sim.muteReplies(false);
        }
      });
    });

    describe('through a real hub: liveness', () => {
      const live = liveHub();
      const offlineAfterMs = device?.offlineAfterMs ?? Number.POSITIVE_INFINITY;
      const isOffline = (incident: Incident) =>
        incident.device.id === deviceId && incident.event.type === 'device.offline';

      it('is online once connected, as GET /api/devices/:id shows', async () => {
        await eventually(async () => (await live.status()).online, waitMs);
        expect(await live.status()).toMatchObject({
          deviceId,
          adapter: adapter.id,
          online: true,
          disabled: false,
          lastSeenAt: expect.any(String),
        });
      });

      it('stays online past its threshold while it sends heartbeats', async () => {
        const from = Date.now();
        await eventually(async () => {
          const { lastSeenAt } = await live.status();
          return lastSeenAt !== null && Date.parse(lastSeenAt) >= from + 1.5 * offlineAfterMs;
        }, waitMs);
        expect((await live.status()).online).toBe(true);
        const raised = (live.officer().of('incident:new') as Incident[]).filter(
          (incident) => isOffline(incident) && Date.parse(incident.createdAt) >= from,
        );
        expect(raised).toEqual([]);
      });

      it('is offline at once when its link dies (its last will), and online again when it reconnects', async () => {
        const sim = live.sim();
        const officer = live.officer();
        const from = officer.of('device:status').length;
        const pushed = (online: boolean) => (status: DeviceStatus) =>
          status.deviceId === deviceId && status.online === online;
        sim.dropLink();
        const offline = await arrival<DeviceStatus>(officer, 'device:status', 'offline', pushed(false), from);
        const back = officer.of('device:status').indexOf(offline) + 1;
        await arrival<DeviceStatus>(officer, 'device:status', 'online again', pushed(true), back);
        await eventually(() => sim.connected, waitMs);
        expect((await live.status()).online).toBe(true);
      });

      it('raises device.offline when it goes silent past its threshold; its next heartbeat resolves it', async () => {
        const sim = live.sim();
        const officer = live.officer();
        const silentAt = Date.now();
        sim.goSilent();
        const incident = await arrival<Incident>(
          officer,
          'incident:new',
          'device.offline',
          (candidate) => isOffline(candidate) && Date.parse(candidate.createdAt) >= silentAt,
        );
        expect(isOpen(incident.state), incident.state).toBe(true);
        expect(incident).toMatchObject({
          device: { id: deviceId, adapter: adapter.id },
          event: { type: 'device.offline', attributes: { silentSeconds: expect.any(Number) } },
        });
        expect(incident.event.attributes.silentSeconds).toBeGreaterThanOrEqual(
          Math.round(offlineAfterMs / 1000),
        );
        expect((await live.status()).online).toBe(false);

        sim.resume();
        await sim.heartbeat();
        const change = await arrival<IncidentChange>(
          officer,
          'incident:update',
          'the offline incident',
          (candidate) => candidate.after.id === incident.id,
        );
        expect(isOpen(change.before.state), change.before.state).toBe(true);
        expect(change.after).toMatchObject({
          state: 'resolved',
          resolvedBy: 'system',
          resolution: expect.stringContaining('device.online'),
        });
        expect((await live.status()).online).toBe(true);
      });
    });

    if (profile.watchdogs.length > 0) {
      describe('through a real hub: watchdogs', () => {
        const live = liveHub();

        for (const raises of profile.watchdogs) {
          const watchdog = device?.watchdogs.find((candidate) => candidate.raises === raises);
          const resetBy = watchdog?.resetBy ?? '(no watchdog)';
          it(`raises ${raises} when ${resetBy} is overdue, resolves it on the next ${resetBy}, and watches again`, async () => {
            if (watchdog === undefined) throw new Error(`${deviceId} has no watchdog raising ${raises}`);
            const reset = producing(resetBy);
            if (reset === undefined) throw new Error(`no scenario produces ${resetBy}`);
            const sim = live.sim();
            const officer = live.officer();
            const rule = ruleFor(raises);
            const missed = (after: number, except?: string) => (candidate: Incident) =>
              candidate.device.id === deviceId &&
              candidate.event.type === raises &&
              candidate.id !== except &&
              Date.parse(candidate.createdAt) >= after + watchdog.afterMs;

            // Whatever the hub raised before the device connected is cleared; the period starts here.
            const firstResetAt = Date.now();
            await reset.act(sim);
            const incident = await arrival<Incident>(officer, 'incident:new', raises, missed(firstResetAt));
            expect(isOpen(incident.state), incident.state).toBe(true);
            expect(incident).toMatchObject({
              title: rule?.title,
              category: rule?.category,
              severity: rule?.severity,
              device: { id: deviceId, adapter: adapter.id },
              event: { type: raises },
            });
            const declared = adapter.events[raises]?.attributes ?? [];
            for (const attribute of Object.keys(incident.event.attributes))
              expect(declared, attribute).toContain(attribute);

            const secondResetAt = Date.now();
            await reset.act(sim);
            const change = await arrival<IncidentChange>(
              officer,
              'incident:update',
              `the ${raises} incident`,
              (candidate) => candidate.after.id === incident.id,
            );
            expect(isOpen(change.before.state), change.before.state).toBe(true);
            expect(change.after).toMatchObject({
              state: 'resolved',
              resolvedBy: 'system',
              resolution: expect.stringContaining(resetBy),
            });

            const again = await arrival<Incident>(
              officer,
              'incident:new',
              `${raises} after the next period`,
              missed(secondResetAt, incident.id),
            );
            expect(isOpen(again.state), again.state).toBe(true);
          });
        }
      });
    }
  });
}
