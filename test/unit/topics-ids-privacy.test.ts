import { describe, expect, it } from 'vitest';
import { timeOrderedId } from '../../src/core/ids.ts';
import { createIdentifierPolicy } from '../../src/core/privacy.ts';
import { TopicGrammar } from '../../src/core/topics.ts';

describe('TopicGrammar', () => {
  const topics = new TopicGrammar('gridhub');

  it('parses a device events topic into its device id and channel', () => {
    expect(topics.parseDeviceTopic('gridhub/devices/gate-1/events')).toEqual({
      deviceId: 'gate-1',
      channel: 'events',
    });
  });

  it('keeps dots and underscores of a device id', () => {
    expect(topics.parseDeviceTopic('gridhub/devices/gate_1.north/events')).toEqual({
      deviceId: 'gate_1.north',
      channel: 'events',
    });
  });

  it.each([
    'other/devices/gate-1/events',
    'gridhubx/devices/gate-1/events',
    'grid/devices/gate-1/events',
    'GRIDHUB/devices/gate-1/events',
    '/gridhub/devices/gate-1/events',
  ])('rejects %s, whose base is not the hub base', (topic) => {
    expect(topics.parseDeviceTopic(topic)).toBeUndefined();
  });

  it.each([
    'gridhub/devices/gate-1/events/extra',
    'gridhub/devices/gate-1/events/',
    'gridhub/devices/gate-1/',
    'gridhub/devices/gate-1',
    'gridhub/devices//events',
    'gridhub/devices/',
    'gridhub/devices',
    'gridhub/commands/gate-1/events',
  ])('rejects %s, which is not <base>/devices/<id>/<channel>', (topic) => {
    expect(topics.parseDeviceTopic(topic)).toBeUndefined();
  });

  it('builds a device topic that parses back to the same device and channel', () => {
    for (const deviceId of ['gate-1', 'gate-xijiao-01-north', 'a', 'x.y_z-9']) {
      const topic = topics.deviceTopic(deviceId, 'events');
      expect(topic).toBe(`gridhub/devices/${deviceId}/events`);
      expect(topics.parseDeviceTopic(topic)).toEqual({ deviceId, channel: 'events' });
    }
  });

  it('uses its own base for building, parsing and subscribing', () => {
    const site = new TopicGrammar('site_7');
    expect(site.base).toBe('site_7');
    expect(site.deviceTopic('gate-1', 'events')).toBe('site_7/devices/gate-1/events');
    expect(site.parseDeviceTopic('site_7/devices/gate-1/events')).toEqual({
      deviceId: 'gate-1',
      channel: 'events',
    });
    expect(site.parseDeviceTopic('gridhub/devices/gate-1/events')).toBeUndefined();
    expect(site.allDevices).toBe('site_7/devices/+/+');
  });

  it('subscribes to every device channel with one wildcard per level', () => {
    expect(topics.allDevices).toBe('gridhub/devices/+/+');
  });
});

describe('timeOrderedId', () => {
  // Far enough ahead of every id made so far that the first call starts a new millisecond.
  const start = Date.now() + 60_000;

  function expectStrictlyIncreasing(ids: readonly string[]): void {
    for (let index = 1; index < ids.length; index++) {
      const previous = ids[index - 1] as string;
      const current = ids[index] as string;
      if (!(previous < current)) expect.fail(`id ${index} (${current}) does not sort after ${previous}`);
    }
  }

  it('makes ids of the prefix, 9 characters of milliseconds, a 4-character counter and a 4-character tail', () => {
    const id = timeOrderedId('inc', start);
    expect(id).toMatch(/^inc_[0-9a-z]{17}$/);
    expect(Number.parseInt(id.slice(4, 13), 36)).toBe(start);
  });

  it('makes 10,000 ids in one millisecond that are strictly increasing in lexical order', () => {
    const now = start + 1;
    const ids = Array.from({ length: 10_000 }, () => timeOrderedId('inc', now));
    expectStrictlyIncreasing(ids);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.every((id) => id.length === ids[0]?.length)).toBe(true);
  });

  it('makes 10,000 ids across milliseconds that are strictly increasing in lexical order', () => {
    // Several ids per millisecond, so the counter both climbs and resets.
    const ids = Array.from({ length: 10_000 }, (_, index) =>
      timeOrderedId('inc', start + 2 + Math.floor(index / 7)),
    );
    expectStrictlyIncreasing(ids);
  });

  it('sorts an id of a later millisecond after one with a high counter in an earlier millisecond', () => {
    const now = start + 100_000;
    let last = '';
    for (let index = 0; index < 40_000; index++) last = timeOrderedId('inc', now);
    const next = timeOrderedId('inc', now + 1);
    expect(last < next).toBe(true);
  });

  it('stays in lexical order past 36^4 ids in one millisecond', () => {
    const now = start + 300_000;
    let previous = timeOrderedId('inc', now);
    for (let index = 0; index < 36 ** 4 + 10; index++) {
      const current = timeOrderedId('inc', now);
      if (!(previous < current) || current.length !== previous.length)
        expect.fail(`${current} after ${previous}`);
      previous = current;
    }
  });

  it('keeps increasing when the clock steps back', () => {
    const now = start + 200_000;
    const before = timeOrderedId('inc', now);
    const after = timeOrderedId('inc', now - 5_000);
    expect(before < after).toBe(true);
  });

  it('uses the current time when none is given', () => {
    const id = timeOrderedId('dl');
    expect(id).toMatch(/^dl_[0-9a-z]{17}$/);
  });
});

describe('createIdentifierPolicy', () => {
  const key = 'k'.repeat(16);

  describe('masked', () => {
    const masked = createIdentifierPolicy('masked', key);

    it('says it masks', () => {
      expect(masked.mode).toBe('masked');
    });

    it('keeps the last four characters of a long identifier', () => {
      expect(masked.minimise('6222020012345678')).toBe('****5678');
      expect(masked.minimise('1234567')).toBe('****4567');
    });

    it.each(['', '1', '1234', '123456'])('masks the short identifier "%s" entirely', (value) => {
      expect(masked.minimise(value)).toBe('****');
    });
  });

  describe('hashed', () => {
    const hashed = createIdentifierPolicy('hashed', key);

    it('says it hashes', () => {
      expect(hashed.mode).toBe('hashed');
    });

    it('gives the same value for the same identifier and key', () => {
      expect(hashed.minimise('6222020012345678')).toBe(hashed.minimise('6222020012345678'));
      expect(createIdentifierPolicy('hashed', key).minimise('6222020012345678')).toBe(
        hashed.minimise('6222020012345678'),
      );
    });

    it('gives a short tagged hex value', () => {
      expect(hashed.minimise('6222020012345678')).toMatch(/^h:[0-9a-f]{16}$/);
    });

    it('gives different values under different keys', () => {
      const other = createIdentifierPolicy('hashed', 'o'.repeat(16));
      expect(other.minimise('6222020012345678')).not.toBe(hashed.minimise('6222020012345678'));
    });

    it('gives different values for different identifiers', () => {
      expect(hashed.minimise('6222020012345678')).not.toBe(hashed.minimise('6222020012345679'));
    });

    it.each(['6222020012345678', '12345678', '0000000000', 'deadbeefcafe'])(
      'never contains the identifier "%s"',
      (value) => {
        expect(hashed.minimise(value)).not.toContain(value);
      },
    );
  });

  describe('none', () => {
    const none = createIdentifierPolicy('none', key);

    it('says it drops identifiers', () => {
      expect(none.mode).toBe('none');
    });

    it('drops every identifier', () => {
      expect(none.minimise('6222020012345678')).toBeUndefined();
      expect(none.minimise('1234')).toBeUndefined();
    });
  });
});
