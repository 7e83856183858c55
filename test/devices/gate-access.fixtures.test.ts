import { describe, expect, it } from 'vitest';
import { gateAccess } from '../../devices/gate-access/index.ts';
import type { DecodeContext, FrameDecoder } from '../../src/core/adapter.ts';
import type { NormalizedEvent } from '../../src/core/device-event.ts';
import { createIdentifierPolicy, type IdentifierMode } from '../../src/core/privacy.ts';

const hashKey = 'k'.repeat(16);
const masked: DecodeContext = { identifiers: createIdentifierPolicy('masked', hashKey) };

const card = '6222020012345678';
const shortCard = '1234';
const qrCode = 'QR-7F3A9C21B8';

/** 2024-05-01T08:00:00+08:00, the time of most fixtures. */
const eightAmBeijing = Date.UTC(2024, 4, 1, 0, 0, 0);

function eventsDecoder(): FrameDecoder<unknown> {
  const decoder = gateAccess.channels.events;
  if (decoder === undefined) throw new Error('gate-access declares no events channel');
  return decoder;
}

function decode(raw: unknown, context: DecodeContext = masked): readonly NormalizedEvent[] {
  const decoder = eventsDecoder();
  return decoder.decode(decoder.schema.parse(raw), context);
}

interface Fixture {
  readonly name: string;
  readonly raw: Record<string, unknown>;
  /** The resident's identifier the frame carries, which must never come out of the decoder. */
  readonly identifier?: string;
  readonly expected: readonly NormalizedEvent[];
}

const envelope = { seq: 1024, time: '2024-05-01T08:00:00+08:00' };

const fixtures: readonly Fixture[] = [
  {
    name: 'ACCESS_GRANTED with a card, its number masked to the last four',
    raw: {
      ...envelope,
      event: 'ACCESS_GRANTED',
      door: 1,
      direction: 'in',
      credential: { type: 'card', number: card },
    },
    identifier: card,
    expected: [
      {
        type: 'access.granted',
        occurredAt: eightAmBeijing,
        attributes: { door: 1, direction: 'in', credentialType: 'card', credential: '****5678' },
      },
    ],
  },
  {
    name: 'ACCESS_GRANTED with a PIN and no number, without a credential attribute',
    raw: { ...envelope, event: 'ACCESS_GRANTED', door: 2, direction: 'out', credential: { type: 'pin' } },
    expected: [
      {
        type: 'access.granted',
        occurredAt: eightAmBeijing,
        attributes: { door: 2, direction: 'out', credentialType: 'pin' },
      },
    ],
  },
  {
    name: 'ACCESS_GRANTED with a face, at a UTC time with milliseconds',
    raw: {
      seq: 0,
      time: '2024-05-01T00:00:01.250Z',
      event: 'ACCESS_GRANTED',
      door: 64,
      direction: 'in',
      credential: { type: 'face' },
    },
    expected: [
      {
        type: 'access.granted',
        occurredAt: Date.UTC(2024, 4, 1, 0, 0, 1, 250),
        attributes: { door: 64, direction: 'in', credentialType: 'face' },
      },
    ],
  },
  {
    name: 'ACCESS_DENIED for an unknown card',
    raw: {
      ...envelope,
      event: 'ACCESS_DENIED',
      door: 1,
      direction: 'in',
      credential: { type: 'card', number: card },
      reason: 'UNKNOWN_CREDENTIAL',
    },
    identifier: card,
    expected: [
      {
        type: 'access.denied',
        occurredAt: eightAmBeijing,
        attributes: {
          door: 1,
          direction: 'in',
          credentialType: 'card',
          credential: '****5678',
          reason: 'unknown_credential',
        },
      },
    ],
  },
  {
    name: 'ACCESS_DENIED for an expired short card number, masked entirely',
    raw: {
      ...envelope,
      event: 'ACCESS_DENIED',
      door: 3,
      direction: 'out',
      credential: { type: 'card', number: shortCard },
      reason: 'EXPIRED',
    },
    identifier: shortCard,
    expected: [
      {
        type: 'access.denied',
        occurredAt: eightAmBeijing,
        attributes: {
          door: 3,
          direction: 'out',
          credentialType: 'card',
          credential: '****',
          reason: 'expired',
        },
      },
    ],
  },
  {
    name: 'ACCESS_DENIED for a QR code out of schedule',
    raw: {
      ...envelope,
      event: 'ACCESS_DENIED',
      door: 4,
      direction: 'in',
      credential: { type: 'qr', number: qrCode },
      reason: 'OUT_OF_SCHEDULE',
    },
    identifier: qrCode,
    expected: [
      {
        type: 'access.denied',
        occurredAt: eightAmBeijing,
        attributes: {
          door: 4,
          direction: 'in',
          credentialType: 'qr',
          credential: '****21B8',
          reason: 'out_of_schedule',
        },
      },
    ],
  },
  {
    name: 'ACCESS_DENIED for a disabled PIN',
    raw: {
      ...envelope,
      event: 'ACCESS_DENIED',
      door: 1,
      direction: 'in',
      credential: { type: 'pin' },
      reason: 'DISABLED',
    },
    expected: [
      {
        type: 'access.denied',
        occurredAt: eightAmBeijing,
        attributes: { door: 1, direction: 'in', credentialType: 'pin', reason: 'disabled' },
      },
    ],
  },
  {
    name: 'DOOR_FORCED_OPEN',
    raw: { ...envelope, event: 'DOOR_FORCED_OPEN', door: 2 },
    expected: [{ type: 'door.forced_open', occurredAt: eightAmBeijing, attributes: { door: 2 } }],
  },
  {
    name: 'DOOR_HELD_OPEN',
    raw: { ...envelope, event: 'DOOR_HELD_OPEN', door: 5, heldSeconds: 95 },
    expected: [
      { type: 'door.held_open', occurredAt: eightAmBeijing, attributes: { door: 5, heldSeconds: 95 } },
    ],
  },
  {
    name: 'DOOR_HELD_OPEN for zero seconds',
    raw: { ...envelope, event: 'DOOR_HELD_OPEN', door: 1, heldSeconds: 0 },
    expected: [
      { type: 'door.held_open', occurredAt: eightAmBeijing, attributes: { door: 1, heldSeconds: 0 } },
    ],
  },
  {
    name: 'TAMPER of the enclosure',
    raw: { ...envelope, event: 'TAMPER', source: 'enclosure' },
    expected: [{ type: 'device.tamper', occurredAt: eightAmBeijing, attributes: { source: 'enclosure' } }],
  },
  {
    name: 'TAMPER of the reader',
    raw: { ...envelope, event: 'TAMPER', source: 'reader' },
    expected: [{ type: 'device.tamper', occurredAt: eightAmBeijing, attributes: { source: 'reader' } }],
  },
  {
    name: 'TAMPER of the wiring',
    raw: { ...envelope, event: 'TAMPER', source: 'wiring' },
    expected: [{ type: 'device.tamper', occurredAt: eightAmBeijing, attributes: { source: 'wiring' } }],
  },
];

interface MalformedFixture {
  readonly name: string;
  readonly raw: unknown;
  /** The path of the issue the schema must report. */
  readonly path: readonly PropertyKey[];
}

const forcedOpen = { ...envelope, event: 'DOOR_FORCED_OPEN', door: 1 };
const granted = {
  ...envelope,
  event: 'ACCESS_GRANTED',
  door: 1,
  direction: 'in',
  credential: { type: 'card', number: card },
};

const malformed: readonly MalformedFixture[] = [
  { name: 'a frame without a time', raw: { seq: 1, event: 'DOOR_FORCED_OPEN', door: 1 }, path: ['time'] },
  { name: 'a time that is not a date', raw: { ...forcedOpen, time: 'yesterday' }, path: ['time'] },
  { name: 'a time without a time zone', raw: { ...forcedOpen, time: '2024-05-01T08:00:00' }, path: ['time'] },
  {
    name: 'a time given as epoch milliseconds',
    raw: { ...forcedOpen, time: eightAmBeijing },
    path: ['time'],
  },
  { name: 'an unknown event', raw: { ...forcedOpen, event: 'DOOR_EXPLODED' }, path: ['event'] },
  { name: 'a frame without an event', raw: { seq: 1, time: envelope.time, door: 1 }, path: ['event'] },
  { name: 'an extra key', raw: { ...forcedOpen, battery: 87 }, path: [] },
  {
    name: 'an extra key in the credential',
    raw: { ...granted, credential: { type: 'pin', pin: '1234' } },
    path: ['credential'],
  },
  { name: 'door 0', raw: { ...forcedOpen, door: 0 }, path: ['door'] },
  { name: 'door 65', raw: { ...forcedOpen, door: 65 }, path: ['door'] },
  { name: 'a fractional door', raw: { ...forcedOpen, door: 1.5 }, path: ['door'] },
  {
    name: 'a negative heldSeconds',
    raw: { ...envelope, event: 'DOOR_HELD_OPEN', door: 1, heldSeconds: -1 },
    path: ['heldSeconds'],
  },
  {
    name: 'a heldSeconds longer than a day',
    raw: { ...envelope, event: 'DOOR_HELD_OPEN', door: 1, heldSeconds: 86_401 },
    path: ['heldSeconds'],
  },
  {
    name: 'a credential number longer than 64 characters',
    raw: { ...granted, credential: { type: 'card', number: '9'.repeat(65) } },
    path: ['credential', 'number'],
  },
  {
    name: 'an empty credential number',
    raw: { ...granted, credential: { type: 'card', number: '' } },
    path: ['credential', 'number'],
  },
  {
    name: 'a credential number given as a number',
    raw: { ...granted, credential: { type: 'card', number: 6222020012345678 } },
    path: ['credential', 'number'],
  },
  {
    name: 'an unknown credential type',
    raw: { ...granted, credential: { type: 'iris' } },
    path: ['credential', 'type'],
  },
  { name: 'a grant without a credential', raw: { ...granted, credential: undefined }, path: ['credential'] },
  { name: 'a door given as a string', raw: { ...forcedOpen, door: '1' }, path: ['door'] },
  { name: 'a negative seq', raw: { ...forcedOpen, seq: -1 }, path: ['seq'] },
  { name: 'a seq given as a string', raw: { ...forcedOpen, seq: '1' }, path: ['seq'] },
  { name: 'an unknown direction', raw: { ...granted, direction: 'up' }, path: ['direction'] },
  {
    name: 'an unknown denial reason',
    raw: { ...granted, event: 'ACCESS_DENIED', reason: 'BANNED' },
    path: ['reason'],
  },
  {
    name: 'an unknown tamper source',
    raw: { ...envelope, event: 'TAMPER', source: 'lid' },
    path: ['source'],
  },
  { name: 'a frame that is a string', raw: 'DOOR_FORCED_OPEN', path: [] },
  { name: 'a frame that is an array', raw: [forcedOpen], path: [] },
  { name: 'a frame that is null', raw: null, path: [] },
];

describe('the gate-access adapter', () => {
  it('is the gate-access adapter with an events channel', () => {
    expect(gateAccess.id).toBe('gate-access');
    expect(Object.keys(gateAccess.channels)).toEqual(['events']);
  });

  describe.each(fixtures)('decodes $name', ({ raw, expected }) => {
    it('into exactly the expected normalized events', () => {
      expect(decode(raw)).toEqual(expected);
    });
  });

  describe.each(malformed)('refuses $name', ({ raw, path }) => {
    it(`with an issue at [${path.join(', ')}]`, () => {
      const result = eventsDecoder().schema.safeParse(raw);
      expect(result.success).toBe(false);
      expect(result.error?.issues.map((issue) => issue.path)).toContainEqual(path);
    });
  });

  it('names the unknown key of a frame with an extra key', () => {
    const result = eventsDecoder().schema.safeParse({ ...forcedOpen, battery: 87 });
    expect(result.error?.issues).toEqual([
      expect.objectContaining({ code: 'unrecognized_keys', keys: ['battery'] }),
    ]);
  });

  it('covers every event it declares with at least one fixture', () => {
    const produced = new Set(fixtures.flatMap((fixture) => fixture.expected.map((event) => event.type)));
    expect([...produced].sort()).toEqual(Object.keys(gateAccess.events).sort());
  });

  it('produces only event types it declares', () => {
    const declared = Object.keys(gateAccess.events);
    for (const fixture of fixtures) {
      for (const event of decode(fixture.raw)) expect(declared, fixture.name).toContain(event.type);
    }
  });

  it('produces only the attributes it declares for each event', () => {
    for (const fixture of fixtures) {
      for (const event of decode(fixture.raw)) {
        const declared = gateAccess.events[event.type]?.attributes ?? [];
        for (const attribute of Object.keys(event.attributes))
          expect(declared, fixture.name).toContain(attribute);
      }
    }
  });

  it('has fixtures that carry residents’ identifiers', () => {
    expect(fixtures.filter((fixture) => fixture.identifier !== undefined).length).toBeGreaterThanOrEqual(3);
  });

  describe.each(['masked', 'hashed', 'none'] satisfies IdentifierMode[])('with identifiers %s', (mode) => {
    const context: DecodeContext = { identifiers: createIdentifierPolicy(mode, hashKey) };

    it('never lets a raw identifier out of the decoder', () => {
      for (const fixture of fixtures) {
        if (fixture.identifier === undefined) continue;
        const text = JSON.stringify(decode(fixture.raw, context));
        expect(text, fixture.name).not.toContain(fixture.identifier);
      }
    });

    it('carries a credential attribute exactly when the policy keeps one', () => {
      const [event] = decode(granted, context);
      if (mode === 'none') expect(event?.attributes).not.toHaveProperty('credential');
      else expect(event?.attributes.credential).toEqual(createIdentifierPolicy(mode, hashKey).minimise(card));
    });
  });

  it('decodes the same frame to the same events every time, without changing the frame', () => {
    const raw = structuredClone(granted);
    const first = decode(raw);
    expect(decode(raw)).toEqual(first);
    expect(raw).toEqual(granted);
  });
});
