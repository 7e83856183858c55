import { isDeepStrictEqual } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deployment } from '../../src/config/load.ts';
import { type DeviceAdapter, livenessEvents } from '../../src/core/adapter.ts';
import type { DeviceEvent } from '../../src/core/device-event.ts';
import type { DeviceStatus } from '../../src/core/device-status.ts';
import { type Incident, type IncidentChange, isOpen } from '../../src/core/incident.ts';
import type { DeadLetter, RefusalReason } from '../../src/core/refusals.ts';
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
import { arrival, type CommandCase, type ExpectedEvent } from './conformance-kit.ts';

/**
 * The conformance kit for devices that do not speak the hub's MQTT dialect: a family whose connector the hub runs
 * (an HTTP event stream it follows, an HTTP push it receives, an alarm receiver on TCP and UDP). The same promises
 * as the MQTT kit (conformance-kit.ts), on the device's own wire: its simulator, which never imports the adapter,
 * drives a real hub on loopback; each thing the device does becomes exactly the expected event, the first of each
 * type with a rule reaches a duty officer as an incident, identifiers stay out of the hub, every malformed input is
 * refused, dead-lettered and counted while the device goes on being heard, commands round-trip, and a device gone
 * silent raises device.offline until it is heard again.
 *
 * The wire differs by protocol; the profile says how. `prepare` starts the simulator and gives the deployment (a
 * hub that follows a device's stream needs the device's address before it starts); `attach` tells a pushing
 * simulator where the hub listens, once it does.
 */

/** The simulator as the kit drives it, whatever its protocol. */
export interface ConnectorSimulator {
  /** Sends nothing more (no events, no heartbeats or polls, an open stream kept silent) until resume(). */
  goSilent(): void;
  resume(): void;
  stop(): Promise<void>;
}

export interface ConnectorScenario<Sim> {
  readonly name: string;
  /**
   * What the device does. For a protocol that acknowledges (an HTTP answer, a DC-09 ACK) it resolves once the hub
   * acknowledged; for a stream the hub follows, once the device wrote it: the kit waits for the event either way.
   */
  readonly act: (sim: Sim) => Promise<unknown>;
  /**
   * The one event the act decodes to; null when it must decode to none (a heartbeat). Several, in any order, where
   * the device reports one happening several ways (an ONVIF camera's motion under two topics).
   */
  readonly expect: ExpectedEvent | readonly ExpectedEvent[] | null;
  /**
   * The time the act's payload carries where it is not the simulator's clock (a real device's message replayed as
   * it was logged): the events' occurredAt then.
   */
  readonly carriedTime?: string;
  /** A resident's identifier the act puts on the wire, which must never come out of the hub. */
  readonly identifier?: string;
}

export interface ConnectorMalformed<Sim> {
  readonly name: string;
  /** Sends the bad input on the device's wire (a garbled part, a frame with a bad CRC, an upload of junk). */
  readonly send: (sim: Sim) => Promise<unknown>;
  readonly reason: RefusalReason;
  /** How one of the dead letter's problems begins. */
  readonly problem: string;
}

/**
 * A command as the MQTT kit gives it, sent to the profile's device unless it names another device of the family:
 * one that runs what the profile's device does not (an attendance terminal's lock release, which an access
 * terminal answers "not supported"), driven by the same simulator.
 */
export interface ConnectorCommandCase extends CommandCase {
  readonly deviceId?: string;
}

export interface ConnectorProfile<Sim extends ConnectorSimulator> {
  readonly adapter: DeviceAdapter;
  readonly deviceId: string;
  /**
   * Which way the device reaches the hub, where a family has several (a stream the hub follows, pushes it takes):
   * each way is a profile of its own, named by this.
   */
  readonly way?: string;
  /**
   * The time the simulator's clock is pinned to: every event's occurredAt, exactly. A device whose clock runs, and
   * whose times the hub moves onto its own clock by an offset it measured (an ONVIF camera's, read to the second),
   * gives `{ toleranceMs }` instead: each event's occurredAt is within that much of when the act ran (or of the
   * time its payload carries).
   */
  readonly deviceTime: string | { readonly toleranceMs: number };
  /**
   * Starts the simulator and returns it with the deployment for the hub: the device's `offlineAfterSeconds` short
   * (1 to 5 s) and rules that clear device.offline by device.online.
   */
  readonly prepare: () => Promise<{ readonly sim: Sim; readonly deployment: Deployment }>;
  /** For a device that reaches the hub: where the hub listens, once it does. */
  readonly attach?: (sim: Sim, hub: TestHub) => Promise<void>;
  /** Together, every event the adapter declares (the hub's liveness events aside). */
  readonly scenarios: readonly ConnectorScenario<Sim>[];
  /** At least one. */
  readonly malformed: readonly ConnectorMalformed<Sim>[];
  /** Every command the adapter declares, at least once. */
  readonly commands: readonly ConnectorCommandCase[];
  /** A duty officer whose scope holds the device. */
  readonly officerToken?: string;
  readonly adminToken?: string;
  /** What else the hub needs (short ONVIF session timings, say). */
  readonly hubOptions?: Omit<NonNullable<Parameters<typeof startTestHub>[0]>, 'deployment'>;
}

/** The events a scenario expects, none or several. */
const expectedOf = <Sim>(scenario: ConnectorScenario<Sim>): readonly ExpectedEvent[] =>
  scenario.expect === null ? [] : 'type' in scenario.expect ? [scenario.expect] : scenario.expect;

/** When the events of an act that ran from `from` to `to` (ms) must say they happened: [earliest, latest]. */
function occurredWithin<Sim>(
  deviceTime: ConnectorProfile<ConnectorSimulator>['deviceTime'],
  scenario: ConnectorScenario<Sim>,
  from: number,
  to: number,
): readonly [number, number] {
  if (typeof deviceTime === 'string') {
    const pinned = Date.parse(scenario.carriedTime ?? deviceTime);
    return [pinned, pinned];
  }
  const { toleranceMs } = deviceTime;
  if (scenario.carriedTime !== undefined) {
    const carried = Date.parse(scenario.carriedTime);
    return [carried - toleranceMs, carried + toleranceMs];
  }
  return [from - toleranceMs, to + toleranceMs];
}

const waitMs = 10_000;
/** How long an act that must decode to nothing is given to show that it does not. */
const quietMs = 400;

export function describeConnectorConformance<Sim extends ConnectorSimulator>(
  profile: ConnectorProfile<Sim>,
): void {
  const { adapter, deviceId, deviceTime } = profile;
  const officerToken = profile.officerToken ?? 'demo-officer-qinghe';
  const adminToken = profile.adminToken ?? 'demo-admin';
  const raisedByHub = new Set(Object.keys(livenessEvents));
  const producing = (type: string) =>
    profile.scenarios.find((scenario) => expectedOf(scenario).some((expected) => expected.type === type));

  function liveHub() {
    let hub: TestHub | undefined;
    let officer: RecordingClient | undefined;
    let sim: Sim | undefined;
    let deployment: Deployment | undefined;
    const need = <T>(value: T | undefined, what: string): T => {
      if (value === undefined) throw new Error(`the ${what} did not start`);
      return value;
    };
    beforeAll(async () => {
      const prepared = await profile.prepare();
      sim = prepared.sim;
      deployment = prepared.deployment;
      hub = await startTestHub({ livenessSweepMs: 50, ...profile.hubOptions, deployment });
      officer = await connectClient(hub.httpUrl, officerToken);
      await profile.attach?.(sim, hub);
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
      deployment: () => need(deployment, 'deployment'),
      status: async (): Promise<DeviceStatus> => {
        const { status, body } = await getJson(
          `${need(hub, 'hub').httpUrl}/api/devices/${deviceId}`,
          adminToken,
        );
        expect(status).toBe(200);
        return (body as { status: DeviceStatus }).status;
      },
    };
  }

  const title = `${adapter.id} conforms on its own wire${profile.way === undefined ? '' : ` (${profile.way})`}`;
  describe(title, () => {
    describe('its profile', () => {
      it('covers every event the device emits with a scenario, and expects only declared attributes', () => {
        const covered = new Set(
          profile.scenarios.flatMap((scenario) => expectedOf(scenario).map((expected) => expected.type)),
        );
        const emitted = Object.keys(adapter.events).filter((type) => !raisedByHub.has(type));
        expect([...covered].sort()).toEqual(emitted.sort());
        for (const scenario of profile.scenarios) {
          for (const expected of expectedOf(scenario)) {
            const declared = adapter.events[expected.type]?.attributes ?? [];
            for (const attribute of Object.keys(expected.attributes))
              expect(declared, scenario.name).toContain(attribute);
          }
        }
      });

      it('round-trips every command the adapter declares, and refuses some input', () => {
        const covered = new Set(profile.commands.map((command) => command.command));
        expect([...covered].sort()).toEqual(Object.keys(adapter.commands).sort());
        expect(profile.malformed.length).toBeGreaterThan(0);
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

      it(`runs ${deviceId} with a short threshold and a rule that clears device.offline`, () => {
        const device = live.deployment().devices.find((candidate) => candidate.id === deviceId);
        expect(device?.adapter.id).toBe(adapter.id);
        expect(device?.offlineAfterMs).toBeLessThanOrEqual(5_000);
        expect(live.deployment().rules.find((rule) => rule.event === 'device.offline')?.clearedBy).toBe(
          'device.online',
        );
      });

      for (const scenario of profile.scenarios) {
        const expected = expectedOf(scenario);
        const outcome = expected.length === 0 ? 'no event' : expected.map(({ type }) => type).join(' and ');
        it(`decodes "${scenario.name}" into ${outcome}, for ${deviceId}`, async () => {
          const { logs } = live.hub();
          const officer = live.officer();
          const fromEvent = events.length;
          const fromRefusal = refusals.length;
          const fromIncident = officer.of('incident:new').length;
          const decodedNow = () =>
            events
              .slice(fromEvent)
              .filter((event) => !raisedByHub.has(event.type))
              .map(({ key: _key, ...event }) => event);

          const actedFrom = Date.now();
          await scenario.act(live.sim());
          const actedTo = Date.now();
          if (expected.length === 0) await new Promise((resolve) => setTimeout(resolve, quietMs));
          else await eventually(() => decodedNow().length >= expected.length, waitMs);

          expect(refusals.slice(fromRefusal), 'refused messages').toEqual([]);
          const decoded = decodedNow();
          // In any order: one happening reported several ways arrives as the device sends it.
          const inOrder = <T extends ExpectedEvent>(list: readonly T[]) =>
            [...list].sort((a, b) =>
              JSON.stringify([a.type, a.attributes]).localeCompare(JSON.stringify([b.type, b.attributes])),
            );
          expect(inOrder(decoded.map(({ occurredAt: _at, ...event }) => event))).toEqual(
            inOrder(expected.map(({ type, attributes }) => ({ deviceId, type, attributes }))),
          );
          const [earliest, latest] = occurredWithin(deviceTime, scenario, actedFrom, actedTo);
          for (const { type, occurredAt } of decoded) {
            expect(occurredAt, `when ${type} occurred`).toBeGreaterThanOrEqual(earliest);
            expect(occurredAt, `when ${type} occurred`).toBeLessThanOrEqual(latest);
          }

          const incidents: Incident[] = [];
          for (const type of new Set(expected.map((event) => event.type))) {
            const rule = live.deployment().rules.find((candidate) => candidate.event === type);
            if (rule === undefined || producing(type) !== scenario) continue;
            const incident = await arrival<Incident>(
              officer,
              'incident:new',
              type,
              (candidate) =>
                candidate.device.id === deviceId &&
                candidate.event.type === type &&
                expected.some(
                  (event) =>
                    event.type === type && isDeepStrictEqual(candidate.event.attributes, event.attributes),
                ),
              fromIncident,
            );
            expect(incident).toMatchObject({
              title: rule.title,
              category: rule.category,
              severity: rule.severity,
              device: { id: deviceId, adapter: adapter.id },
            });
            incidents.push(incident);
          }
          if (scenario.identifier !== undefined) {
            expect(JSON.stringify(decoded)).not.toContain(scenario.identifier);
            expect(JSON.stringify(incidents)).not.toContain(scenario.identifier);
            expect(logs.text).not.toContain(scenario.identifier);
          }
        });
      }

      for (const malformed of profile.malformed) {
        it(`refuses ${malformed.name} as ${malformed.reason}, keeps a dead letter and counts it`, async () => {
          const { httpUrl } = live.hub();
          const metric = `gridhub_messages_refused_total{reason="${malformed.reason}"}`;
          const countedBefore = await metricValue(httpUrl, metric);
          const fromRefusal = refusals.length;
          const fromEvent = events.length;

          await malformed.send(live.sim());
          await eventually(() => refusals.length > fromRefusal, waitMs);

          const refused = refusals.slice(fromRefusal);
          expect(refused.map((deadLetter) => deadLetter.reason)).toEqual([malformed.reason]);
          expect(events.slice(fromEvent).filter((event) => !raisedByHub.has(event.type))).toEqual([]);
          // The hub tells of a refusal as it stores its dead letter: a wire that acknowledges nothing (a stream
          // the hub follows) may be asked before the store has it.
          let kept: DeadLetter | undefined;
          await eventually(async () => {
            const { status, body } = await getJson(`${httpUrl}/api/dead-letters?limit=100`, adminToken);
            expect(status).toBe(200);
            kept = (body as { deadLetters: DeadLetter[] }).deadLetters.find(
              (deadLetter) => deadLetter.id === refused[0]?.id,
            );
            return kept !== undefined;
          }, waitMs);
          expect(kept?.reason).toBe(malformed.reason);
          expect(
            kept?.problems.some((problem) => problem.startsWith(malformed.problem)),
            JSON.stringify(kept),
          ).toBe(true);
          expect(await metricValue(httpUrl, metric)).toBe(countedBefore + 1);
        });
      }

      it('still decodes what the device does after every refusal', async () => {
        const scenario = profile.scenarios.find((candidate) => expectedOf(candidate).length > 0);
        if (scenario === undefined) throw new Error('the profile has no scenario that decodes to an event');
        const type = expectedOf(scenario)[0]?.type;
        const fromEvent = events.length;
        await scenario.act(live.sim());
        await eventually(() => events.slice(fromEvent).some((event) => event.type === type), waitMs);
      });

      for (const command of profile.commands) {
        const answer = command.expectOk
          ? 'ok'
          : `refused${command.expectError === undefined ? '' : ` with "${command.expectError}"`}`;
        const target = command.deviceId ?? deviceId;
        const to = target === deviceId ? '' : ` to ${target}`;
        it(`round-trips ${command.command} ${JSON.stringify(command.params)}${to}, answered ${answer}`, async () => {
          const { status, body } = await postJson(
            `${live.hub().httpUrl}/api/devices/${target}/commands/${command.command}`,
            adminToken,
            { params: command.params },
          );
          expect(status).toBe(200);
          expect(body).toMatchObject({
            requestId: expect.stringMatching(/^cmd_/),
            ok: command.expectOk,
            ...(command.expectError === undefined ? {} : { error: command.expectError }),
          });
        });
      }
    });

    describe('through a real hub: liveness', () => {
      const live = liveHub();
      const isOffline = (incident: Incident) =>
        incident.device.id === deviceId && incident.event.type === 'device.offline';

      it('is online once heard, raises device.offline when silent past its threshold, and clears it when heard again', async () => {
        await eventually(async () => (await live.status()).online, waitMs);
        const officer = live.officer();
        const silentAt = Date.now();
        live.sim().goSilent();
        const incident = await arrival<Incident>(
          officer,
          'incident:new',
          'device.offline',
          (candidate) => isOffline(candidate) && Date.parse(candidate.createdAt) >= silentAt,
        );
        expect(isOpen(incident.state), incident.state).toBe(true);
        expect((await live.status()).online).toBe(false);

        live.sim().resume();
        const change = await arrival<IncidentChange>(
          officer,
          'incident:update',
          'the offline incident',
          (candidate) => candidate.after.id === incident.id,
        );
        expect(change.after).toMatchObject({ state: 'resolved', resolvedBy: 'system' });
        expect((await live.status()).online).toBe(true);
      });
    });
  });
}
