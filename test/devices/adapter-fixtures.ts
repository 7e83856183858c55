import { describe, expect, it } from 'vitest';
import type {
  CommandReply,
  DecodeContext,
  DecodedChannel,
  DeviceAdapter,
  FrameDecoder,
} from '../../src/core/adapter.ts';
import type { NormalizedEvent } from '../../src/core/device-event.ts';
import { createIdentifierPolicy, type IdentifierMode, identifierModes } from '../../src/core/privacy.ts';

/**
 * The checks every adapter's fixture tables go through, whatever the family: each test file under test/devices
 * holds its tables as plain data (raw frame in, expected output out) and hands them to `checkAdapterFixtures`.
 */

export const hashKey = 'k'.repeat(16);

export function contextFor(mode: IdentifierMode): DecodeContext {
  return { identifiers: createIdentifierPolicy(mode, hashKey) };
}

export const masked = contextFor('masked');

export interface FrameFixture {
  readonly name: string;
  readonly raw: Record<string, unknown>;
  /** A resident's identifier or a secret the frame carries, which must never come out of the decoder. */
  readonly identifier?: string;
  readonly expected: readonly NormalizedEvent[];
}

export interface MalformedFixture {
  readonly name: string;
  readonly raw: unknown;
  /** The path of the issue the schema must report. */
  readonly path: readonly PropertyKey[];
}

export interface CommandFixture {
  readonly name: string;
  readonly command: string;
  /** The parameters as an API caller gives them, before the command's schema applies its defaults. */
  readonly params: unknown;
  readonly requestId: string;
  /** The exact payload published on the device's commands topic. */
  readonly expected: unknown;
}

export interface CommandMalformedFixture {
  readonly name: string;
  readonly command: string;
  readonly params: unknown;
  readonly path: readonly PropertyKey[];
}

export interface ReplyFixture {
  readonly name: string;
  readonly raw: unknown;
  readonly expected: CommandReply;
}

export interface AdapterFixtureTables {
  readonly events: readonly FrameFixture[];
  readonly eventsMalformed: readonly MalformedFixture[];
  readonly heartbeat: readonly FrameFixture[];
  readonly heartbeatMalformed: readonly MalformedFixture[];
  readonly commands: readonly CommandFixture[];
  readonly commandsMalformed: readonly CommandMalformedFixture[];
  readonly replies: readonly ReplyFixture[];
  readonly repliesMalformed: readonly MalformedFixture[];
}

export function channel(adapter: DeviceAdapter, name: DecodedChannel): FrameDecoder<unknown> {
  const decoder = adapter.channels[name];
  if (decoder === undefined) throw new Error(`${adapter.id} declares no ${name} channel`);
  return decoder;
}

export function decodeOn(
  adapter: DeviceAdapter,
  name: DecodedChannel,
  raw: unknown,
  context: DecodeContext = masked,
): readonly NormalizedEvent[] {
  const decoder = channel(adapter, name);
  return decoder.decode(decoder.schema.parse(raw), context);
}

/** Events the hub raises for the adapter (its watchdogs'): declared, but no frame produces them. */
function hubRaised(adapter: DeviceAdapter): string[] {
  return (adapter.watchdogs ?? []).map((watchdog) => watchdog.raises);
}

export function checkAdapterFixtures(adapter: DeviceAdapter, tables: AdapterFixtureTables): void {
  const frameTables = [
    { channel: 'events', fixtures: tables.events },
    { channel: 'heartbeat', fixtures: tables.heartbeat },
  ] as const;

  describe.each(tables.events)('decodes the event frame $name', ({ raw, expected }) => {
    it('into exactly the expected normalized events', () => {
      expect(decodeOn(adapter, 'events', raw)).toEqual(expected);
    });
  });

  describe.each(tables.eventsMalformed)('refuses the event frame $name', ({ raw, path }) => {
    it(`with an issue at [${path.join(', ')}]`, () => {
      const result = channel(adapter, 'events').schema.safeParse(raw);
      expect(result.success).toBe(false);
      expect(result.error?.issues.map((issue) => issue.path)).toContainEqual(path);
    });
  });

  describe.each(tables.heartbeat)('decodes the heartbeat $name', ({ raw, expected }) => {
    it('into exactly the expected normalized events', () => {
      expect(decodeOn(adapter, 'heartbeat', raw)).toEqual(expected);
    });
  });

  describe.each(tables.heartbeatMalformed)('refuses the heartbeat $name', ({ raw, path }) => {
    it(`with an issue at [${path.join(', ')}]`, () => {
      const result = channel(adapter, 'heartbeat').schema.safeParse(raw);
      expect(result.success).toBe(false);
      expect(result.error?.issues.map((issue) => issue.path)).toContainEqual(path);
    });
  });

  describe.each(tables.commands)('encodes the command $name', ({ command, params, requestId, expected }) => {
    it('into exactly the expected payload', () => {
      const definition = adapter.commands[command];
      expect(definition, command).toBeDefined();
      expect(definition?.encode(definition.params.parse(params), requestId)).toEqual(expected);
    });
  });

  describe.each(tables.commandsMalformed)('refuses the command $name', ({ command, params, path }) => {
    it(`with an issue at [${path.join(', ')}]`, () => {
      const result = adapter.commands[command]?.params.safeParse(params);
      expect(result?.success).toBe(false);
      expect(result?.error?.issues.map((issue) => issue.path)).toContainEqual(path);
    });
  });

  describe.each(tables.replies)('decodes the reply $name', ({ raw, expected }) => {
    it('into exactly the expected command reply', () => {
      const replies = adapter.replies;
      if (replies === undefined) throw new Error(`${adapter.id} declares no replies`);
      expect(replies.decode(replies.schema.parse(raw))).toEqual(expected);
    });
  });

  describe.each(tables.repliesMalformed)('refuses the reply $name', ({ raw, path }) => {
    it(`with an issue at [${path.join(', ')}]`, () => {
      const result = adapter.replies?.schema.safeParse(raw);
      expect(result?.success).toBe(false);
      expect(result?.error?.issues.map((issue) => issue.path)).toContainEqual(path);
    });
  });

  it('covers every event it declares with a fixture, except those the hub raises for it', () => {
    const produced = new Set(tables.events.flatMap((fixture) => fixture.expected.map((event) => event.type)));
    const raisedByHub = hubRaised(adapter);
    const fromFrames = Object.keys(adapter.events).filter((type) => !raisedByHub.includes(type));
    expect([...produced].sort()).toEqual(fromFrames.sort());
  });

  it('produces only event types and attributes it declares', () => {
    for (const { channel: name, fixtures } of frameTables) {
      for (const fixture of fixtures) {
        for (const event of decodeOn(adapter, name, fixture.raw)) {
          const declared = adapter.events[event.type];
          expect(declared, `${fixture.name}: ${event.type}`).toBeDefined();
          for (const attribute of Object.keys(event.attributes))
            expect(declared?.attributes, fixture.name).toContain(attribute);
        }
      }
    }
  });

  it('covers every command it declares with a fixture, each carrying the requestId', () => {
    const covered = new Set(tables.commands.map((fixture) => fixture.command));
    expect([...covered].sort()).toEqual(Object.keys(adapter.commands).sort());
    for (const fixture of tables.commands) {
      const definition = adapter.commands[fixture.command];
      const payload = definition?.encode(definition.params.parse(fixture.params), fixture.requestId);
      expect(payload, fixture.name).toHaveProperty('requestId', fixture.requestId);
    }
  });

  it('decodes replies that succeed and replies that fail', () => {
    expect(tables.replies.some((fixture) => fixture.expected.ok)).toBe(true);
    expect(tables.replies.some((fixture) => !fixture.expected.ok)).toBe(true);
  });

  it('declares a heartbeat channel and liveness defaults that leave room for a missed heartbeat', () => {
    expect(adapter.channels.heartbeat).toBeDefined();
    expect(adapter.liveness.heartbeatSeconds).toBeGreaterThan(0);
    expect(adapter.liveness.offlineAfterSeconds).toBeGreaterThanOrEqual(
      2 * adapter.liveness.heartbeatSeconds,
    );
  });

  it('declares every event its watchdogs reset by or raise', () => {
    for (const watchdog of adapter.watchdogs ?? []) {
      expect(adapter.events, watchdog.resetBy).toHaveProperty([watchdog.resetBy]);
      expect(adapter.events, watchdog.raises).toHaveProperty([watchdog.raises]);
      expect(watchdog.defaultSeconds).toBeGreaterThan(0);
    }
  });

  describe.each([...identifierModes])('with identifiers %s', (mode) => {
    it('never lets a raw identifier or secret out of the decoder', () => {
      for (const { channel: name, fixtures } of frameTables) {
        for (const fixture of fixtures) {
          if (fixture.identifier === undefined) continue;
          const text = JSON.stringify(decodeOn(adapter, name, fixture.raw, contextFor(mode)));
          expect(text, fixture.name).not.toContain(fixture.identifier);
        }
      }
    });
  });

  it('decodes the same frame to the same events every time, without changing the frame', () => {
    for (const fixture of tables.events) {
      const raw = structuredClone(fixture.raw);
      const first = decodeOn(adapter, 'events', raw);
      expect(decodeOn(adapter, 'events', raw), fixture.name).toEqual(first);
      expect(raw, fixture.name).toEqual(fixture.raw);
    }
  });
}
