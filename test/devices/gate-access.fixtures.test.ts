import { describe, expect, it } from 'vitest';
import { gateAccess } from '../../devices/gate-access/index.ts';
import type { NormalizedEvent } from '../../src/core/device-event.ts';
import { createIdentifierPolicy, identifierModes } from '../../src/core/privacy.ts';
import {
  type CommandFixture,
  type CommandMalformedFixture,
  channel,
  checkAdapterFixtures,
  contextFor,
  decodeOn,
  type FrameFixture,
  hashKey,
  type MalformedFixture,
  type ReplyFixture,
} from './adapter-fixtures.ts';

const card = '6222020012345678';
const shortCard = '1234';
const qrCode = 'QR-7F3A9C21B8';
const plate = '京A12345';
const newEnergyPlate = '京AD12345';
const faceId = 'FACE-00042917';

/** 2024-05-01T08:00:00+08:00, the time of most fixtures. */
const eightAmBeijing = Date.UTC(2024, 4, 1, 0, 0, 0);

const envelope = { seq: 1024, time: '2024-05-01T08:00:00+08:00' };

function at(type: string, attributes: NormalizedEvent['attributes']): NormalizedEvent[] {
  return [{ type, occurredAt: eightAmBeijing, attributes }];
}

const gateAccessFixtures: readonly FrameFixture[] = [
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
  {
    name: 'ANTI_PASSBACK with a card, its number masked',
    raw: {
      ...envelope,
      event: 'ANTI_PASSBACK',
      door: 1,
      direction: 'in',
      credential: { type: 'card', number: card },
    },
    identifier: card,
    expected: at('access.anti_passback', {
      door: 1,
      direction: 'in',
      credentialType: 'card',
      credential: '****5678',
    }),
  },
  {
    name: 'ANTI_PASSBACK with a face and no number',
    raw: { ...envelope, event: 'ANTI_PASSBACK', door: 2, direction: 'out', credential: { type: 'face' } },
    expected: at('access.anti_passback', { door: 2, direction: 'out', credentialType: 'face' }),
  },
  {
    name: 'TAILGATING by one follower',
    raw: { ...envelope, event: 'TAILGATING', door: 1, direction: 'in', followers: 1 },
    expected: at('access.tailgating', { door: 1, direction: 'in', followers: 1 }),
  },
  {
    name: 'TAILGATING by three followers going out',
    raw: { ...envelope, event: 'TAILGATING', door: 64, direction: 'out', followers: 3 },
    expected: at('access.tailgating', { door: 64, direction: 'out', followers: 3 }),
  },
  {
    name: 'BLACKLIST_MATCH of a card',
    raw: { ...envelope, event: 'BLACKLIST_MATCH', door: 1, credential: { type: 'card', number: card } },
    identifier: card,
    expected: at('access.blacklisted', { door: 1, credentialType: 'card', credential: '****5678' }),
  },
  {
    name: 'BLACKLIST_MATCH of a plate, masked like a card',
    raw: { ...envelope, event: 'BLACKLIST_MATCH', door: 3, credential: { type: 'plate', number: plate } },
    identifier: plate,
    expected: at('access.blacklisted', { door: 3, credentialType: 'plate', credential: '****2345' }),
  },
  {
    name: 'BLACKLIST_MATCH of a face by its library id',
    raw: { ...envelope, event: 'BLACKLIST_MATCH', door: 2, credential: { type: 'face', number: faceId } },
    identifier: faceId,
    expected: at('access.blacklisted', { door: 2, credentialType: 'face', credential: '****2917' }),
  },
  {
    name: 'BLACKLIST_MATCH of a face without an id',
    raw: { ...envelope, event: 'BLACKLIST_MATCH', door: 2, credential: { type: 'face' } },
    expected: at('access.blacklisted', { door: 2, credentialType: 'face' }),
  },
  {
    name: 'VEHICLE_ENTRY with the barrier opened, its plate masked',
    raw: { ...envelope, event: 'VEHICLE_ENTRY', lane: 1, plate, barrier: 'opened' },
    identifier: plate,
    expected: at('vehicle.entry', { lane: 1, plate: '****2345', barrier: 'opened' }),
  },
  {
    name: 'VEHICLE_ENTRY of a new-energy plate held at the barrier',
    raw: { ...envelope, event: 'VEHICLE_ENTRY', lane: 16, plate: newEnergyPlate, barrier: 'held' },
    identifier: newEnergyPlate,
    expected: at('vehicle.entry', { lane: 16, plate: '****2345', barrier: 'held' }),
  },
  {
    name: 'VEHICLE_EXIT with the barrier opened',
    raw: { ...envelope, event: 'VEHICLE_EXIT', lane: 2, plate, barrier: 'opened' },
    identifier: plate,
    expected: at('vehicle.exit', { lane: 2, plate: '****2345', barrier: 'opened' }),
  },
];

const forcedOpen = { ...envelope, event: 'DOOR_FORCED_OPEN', door: 1 };
const granted = {
  ...envelope,
  event: 'ACCESS_GRANTED',
  door: 1,
  direction: 'in',
  credential: { type: 'card', number: card },
};
const antiPassback = { ...granted, event: 'ANTI_PASSBACK' };
const tailgating = { ...envelope, event: 'TAILGATING', door: 1, direction: 'in', followers: 2 };
const blacklisted = {
  ...envelope,
  event: 'BLACKLIST_MATCH',
  door: 1,
  credential: { type: 'card', number: card },
};
const vehicleEntry = { ...envelope, event: 'VEHICLE_ENTRY', lane: 1, plate, barrier: 'opened' };
const vehicleExit = { ...vehicleEntry, event: 'VEHICLE_EXIT' };

const gateAccessMalformed: readonly MalformedFixture[] = [
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
  {
    name: 'an anti-passback without a credential',
    raw: { ...envelope, event: 'ANTI_PASSBACK', door: 1, direction: 'in' },
    path: ['credential'],
  },
  { name: 'tailgating by no follower', raw: { ...tailgating, followers: 0 }, path: ['followers'] },
  { name: 'tailgating by half a follower', raw: { ...tailgating, followers: 1.5 }, path: ['followers'] },
  {
    name: 'tailgating without a direction',
    raw: { ...tailgating, direction: undefined },
    path: ['direction'],
  },
  {
    name: 'a blacklisted PIN (a blacklist holds cards, plates and faces)',
    raw: { ...blacklisted, credential: { type: 'pin' } },
    path: ['credential', 'type'],
  },
  {
    name: 'a blacklist match with a direction',
    raw: { ...blacklisted, direction: 'in' },
    path: [],
  },
  {
    name: 'a blacklisted number longer than 64 characters',
    raw: { ...blacklisted, credential: { type: 'card', number: '9'.repeat(65) } },
    path: ['credential', 'number'],
  },
  { name: 'lane 0', raw: { ...vehicleEntry, lane: 0 }, path: ['lane'] },
  { name: 'lane 17', raw: { ...vehicleEntry, lane: 17 }, path: ['lane'] },
  { name: 'an empty plate', raw: { ...vehicleEntry, plate: '' }, path: ['plate'] },
  {
    name: 'a plate longer than 16 characters',
    raw: { ...vehicleEntry, plate: 'A'.repeat(17) },
    path: ['plate'],
  },
  { name: 'a plate given as a number', raw: { ...vehicleEntry, plate: 12345 }, path: ['plate'] },
  { name: 'an unknown barrier state', raw: { ...vehicleEntry, barrier: 'raised' }, path: ['barrier'] },
  {
    name: 'a vehicle exit without a barrier',
    raw: { ...vehicleExit, barrier: undefined },
    path: ['barrier'],
  },
  { name: 'a vehicle entry with a door', raw: { ...vehicleEntry, door: 1 }, path: [] },
];

const heartbeat = {
  ...envelope,
  uptimeSeconds: 86_400,
  doors: [
    { door: 1, closed: true, locked: true },
    { door: 2, closed: false, locked: false },
  ],
};

const gateAccessHeartbeatFixtures: readonly FrameFixture[] = [
  { name: 'of a controller with two doors', raw: heartbeat, expected: [] },
  {
    name: 'just after boot, with no doors reported',
    raw: { ...envelope, uptimeSeconds: 0, doors: [] },
    expected: [],
  },
  {
    name: 'of a controller with 64 doors',
    raw: {
      ...envelope,
      uptimeSeconds: 5,
      doors: Array.from({ length: 64 }, (_, index) => ({ door: index + 1, closed: true, locked: true })),
    },
    expected: [],
  },
];

const gateAccessHeartbeatMalformed: readonly MalformedFixture[] = [
  { name: 'without doors', raw: { ...envelope, uptimeSeconds: 1 }, path: ['doors'] },
  { name: 'without an uptime', raw: { ...envelope, doors: [] }, path: ['uptimeSeconds'] },
  { name: 'with a negative uptime', raw: { ...heartbeat, uptimeSeconds: -1 }, path: ['uptimeSeconds'] },
  { name: 'with a fractional uptime', raw: { ...heartbeat, uptimeSeconds: 1.5 }, path: ['uptimeSeconds'] },
  { name: 'without a time', raw: { ...heartbeat, time: undefined }, path: ['time'] },
  {
    name: 'with door 65',
    raw: { ...heartbeat, doors: [{ door: 65, closed: true, locked: true }] },
    path: ['doors', 0, 'door'],
  },
  {
    name: 'with a door state given as a string',
    raw: { ...heartbeat, doors: [{ door: 1, closed: 'yes', locked: true }] },
    path: ['doors', 0, 'closed'],
  },
  {
    name: 'with a door without its lock state',
    raw: { ...heartbeat, doors: [{ door: 1, closed: true }] },
    path: ['doors', 0, 'locked'],
  },
  {
    name: 'with an extra key in a door',
    raw: { ...heartbeat, doors: [{ door: 1, closed: true, locked: true, alarm: false }] },
    path: ['doors', 0],
  },
  {
    name: 'with more than 64 doors',
    raw: { ...heartbeat, doors: Array.from({ length: 65 }, () => ({ door: 1, closed: true, locked: true })) },
    path: ['doors'],
  },
  { name: 'with an extra key', raw: { ...heartbeat, temperature: 41 }, path: [] },
  { name: 'that is an event frame', raw: forcedOpen, path: [] },
  { name: 'that is null', raw: null, path: [] },
];

const gateAccessCommandFixtures: readonly CommandFixture[] = [
  {
    name: 'unlock with the default of 5 seconds',
    command: 'unlock',
    params: { door: 1 },
    requestId: 'req-0001',
    expected: { cmd: 'UNLOCK', requestId: 'req-0001', door: 1, seconds: 5 },
  },
  {
    name: 'unlock of door 64 for a minute',
    command: 'unlock',
    params: { door: 64, seconds: 60 },
    requestId: 'b0c8b7e2-5d0e-4a57-9f59-1f1c7a3e2d10',
    expected: { cmd: 'UNLOCK', requestId: 'b0c8b7e2-5d0e-4a57-9f59-1f1c7a3e2d10', door: 64, seconds: 60 },
  },
];

const gateAccessCommandMalformed: readonly CommandMalformedFixture[] = [
  { name: 'unlock of door 0', command: 'unlock', params: { door: 0 }, path: ['door'] },
  { name: 'unlock of door 65', command: 'unlock', params: { door: 65 }, path: ['door'] },
  { name: 'unlock without a door', command: 'unlock', params: {}, path: ['door'] },
  { name: 'unlock for 0 seconds', command: 'unlock', params: { door: 1, seconds: 0 }, path: ['seconds'] },
  { name: 'unlock for 61 seconds', command: 'unlock', params: { door: 1, seconds: 61 }, path: ['seconds'] },
  { name: 'unlock for 2.5 seconds', command: 'unlock', params: { door: 1, seconds: 2.5 }, path: ['seconds'] },
  { name: 'unlock with an extra key', command: 'unlock', params: { door: 1, all: true }, path: [] },
  { name: 'unlock of a door given as a string', command: 'unlock', params: { door: '1' }, path: ['door'] },
];

const gateAccessReplyFixtures: readonly ReplyFixture[] = [
  { name: 'OK', raw: { requestId: 'req-0001', result: 'OK' }, expected: { requestId: 'req-0001', ok: true } },
  {
    name: 'OK with a message, which is not an error',
    raw: { requestId: 'req-0002', result: 'OK', message: 'unlocked' },
    expected: { requestId: 'req-0002', ok: true },
  },
  {
    name: 'ERROR with a message',
    raw: { requestId: 'req-0003', result: 'ERROR', message: 'no such door' },
    expected: { requestId: 'req-0003', ok: false, error: 'no such door' },
  },
  {
    name: 'ERROR without a message',
    raw: { requestId: 'req-0004', result: 'ERROR' },
    expected: { requestId: 'req-0004', ok: false },
  },
];

const gateAccessReplyMalformed: readonly MalformedFixture[] = [
  { name: 'without a requestId', raw: { result: 'OK' }, path: ['requestId'] },
  { name: 'with an empty requestId', raw: { requestId: '', result: 'OK' }, path: ['requestId'] },
  {
    name: 'with a requestId of 65 characters',
    raw: { requestId: 'r'.repeat(65), result: 'OK' },
    path: ['requestId'],
  },
  { name: 'with an unknown result', raw: { requestId: 'req-1', result: 'FAIL' }, path: ['result'] },
  { name: 'with a result in lower case', raw: { requestId: 'req-1', result: 'ok' }, path: ['result'] },
  {
    name: 'with a message of 201 characters',
    raw: { requestId: 'req-1', result: 'ERROR', message: 'm'.repeat(201) },
    path: ['message'],
  },
  { name: 'with an extra key', raw: { requestId: 'req-1', result: 'OK', door: 1 }, path: [] },
  { name: 'in the sentry box’s words', raw: { requestId: 'req-1', status: 'done' }, path: ['result'] },
];

describe('the gate-access adapter', () => {
  it('is the gate-access adapter with an events and a heartbeat channel, unlock, replies and liveness', () => {
    expect(gateAccess.id).toBe('gate-access');
    expect(Object.keys(gateAccess.channels)).toEqual(['events', 'heartbeat']);
    expect(Object.keys(gateAccess.commands)).toEqual(['unlock']);
    expect(gateAccess.replies).toBeDefined();
    expect(gateAccess.liveness).toEqual({ heartbeatSeconds: 30, offlineAfterSeconds: 90 });
    expect(gateAccess.watchdogs ?? []).toEqual([]);
  });

  checkAdapterFixtures(gateAccess, {
    events: gateAccessFixtures,
    eventsMalformed: gateAccessMalformed,
    heartbeat: gateAccessHeartbeatFixtures,
    heartbeatMalformed: gateAccessHeartbeatMalformed,
    commands: gateAccessCommandFixtures,
    commandsMalformed: gateAccessCommandMalformed,
    replies: gateAccessReplyFixtures,
    repliesMalformed: gateAccessReplyMalformed,
  });

  it('names the unknown key of a frame with an extra key', () => {
    const result = channel(gateAccess, 'events').schema.safeParse({ ...forcedOpen, battery: 87 });
    expect(result.error?.issues).toEqual([
      expect.objectContaining({ code: 'unrecognized_keys', keys: ['battery'] }),
    ]);
  });

  it('has fixtures that carry residents’ cards and plates', () => {
    const identifiers = gateAccessFixtures.flatMap((fixture) => fixture.identifier ?? []);
    expect(identifiers.length).toBeGreaterThanOrEqual(3);
    expect(identifiers).toContain(card);
    expect(identifiers).toContain(plate);
  });

  describe.each([...identifierModes])('with identifiers %s', (mode) => {
    const context = contextFor(mode);
    const policy = createIdentifierPolicy(mode, hashKey);

    it('carries a credential attribute exactly when the policy keeps one', () => {
      for (const raw of [granted, antiPassback, blacklisted]) {
        const [event] = decodeOn(gateAccess, 'events', raw, context);
        if (mode === 'none') expect(event?.attributes, raw.event).not.toHaveProperty('credential');
        else expect(event?.attributes.credential, raw.event).toEqual(policy.minimise(card));
      }
    });

    it('carries a plate attribute exactly when the policy keeps one', () => {
      for (const raw of [vehicleEntry, vehicleExit]) {
        const [event] = decodeOn(gateAccess, 'events', raw, context);
        if (mode === 'none') expect(event?.attributes, raw.event).not.toHaveProperty('plate');
        else expect(event?.attributes.plate, raw.event).toEqual(policy.minimise(plate));
        expect(event?.attributes, raw.event).toHaveProperty('barrier');
      }
    });

    it('tells two plates apart when hashed, and one plate from itself never', () => {
      if (mode !== 'hashed') return;
      const [first] = decodeOn(gateAccess, 'events', vehicleEntry, context);
      const [again] = decodeOn(gateAccess, 'events', vehicleExit, context);
      const [other] = decodeOn(gateAccess, 'events', { ...vehicleEntry, plate: '京B54321' }, context);
      expect(again?.attributes.plate).toBe(first?.attributes.plate);
      expect(other?.attributes.plate).not.toBe(first?.attributes.plate);
    });
  });

  it('applies the unlock defaults through its parameter schema, without changing the parameters', () => {
    const params = { door: 2 };
    expect(gateAccess.commands.unlock?.params.parse(params)).toEqual({ door: 2, seconds: 5 });
    expect(params).toEqual({ door: 2 });
  });
});
