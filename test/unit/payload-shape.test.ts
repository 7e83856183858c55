import { describe, expect, it } from 'vitest';
import { payloadShape } from '../../src/ingest/payload-shape.ts';

/** `depth` objects nested under key "n", with `leaf` at the bottom. */
function nestedObjects(depth: number, leaf: unknown): unknown {
  let value = leaf;
  for (let level = 0; level < depth; level++) value = { n: value };
  return value;
}

/** `depth` arrays nested in one another, with `leaf` at the bottom. */
function nestedArrays(depth: number, leaf: unknown): unknown {
  let value = leaf;
  for (let level = 0; level < depth; level++) value = [value];
  return value;
}

describe('payloadShape', () => {
  it.each([
    ['a string', 'hello', 'string'],
    ['a number', 42, 'number'],
    ['a boolean', false, 'boolean'],
    ['null', null, 'null'],
  ])('replaces %s with its type name', (_name, value, expected) => {
    expect(payloadShape(value)).toBe(expected);
  });

  it('replaces every leaf of an object with its type name and keeps the keys', () => {
    expect(payloadShape({ seq: 7, time: '2024-05-01T08:00:00Z', ok: true, note: null })).toEqual({
      seq: 'number',
      time: 'string',
      ok: 'boolean',
      note: 'null',
    });
  });

  it('keeps the structure of nested objects and arrays', () => {
    expect(
      payloadShape({
        event: 'ACCESS_GRANTED',
        credential: { type: 'card', number: '6222020012345678' },
        doors: [1, 'two', { id: 3 }],
        readings: [],
      }),
    ).toEqual({
      event: 'string',
      credential: { type: 'string', number: 'string' },
      doors: ['number', 'string', { id: 'number' }],
      readings: [],
    });
  });

  it('keeps the first four items of a long array and counts the rest', () => {
    expect(payloadShape([1, 'a', true, null, 5, 6, 7])).toEqual([
      'number',
      'string',
      'boolean',
      'null',
      '…3 more',
    ]);
  });

  it('keeps an array of exactly four items whole', () => {
    expect(payloadShape([1, 2, 3, 4])).toEqual(['number', 'number', 'number', 'number']);
  });

  it('keeps the first 32 keys of a wide object and counts the rest', () => {
    const wide = Object.fromEntries(Array.from({ length: 40 }, (_, index) => [`key${index}`, index]));
    const shape = payloadShape(wide) as Record<string, unknown>;
    expect(Object.keys(shape)).toHaveLength(33);
    expect(shape.key0).toBe('number');
    expect(shape.key31).toBe('number');
    expect(shape).not.toHaveProperty('key32');
    expect(shape['…']).toBe('8 more keys');
  });

  it('keeps an object of exactly 32 keys whole', () => {
    const shape = payloadShape(
      Object.fromEntries(Array.from({ length: 32 }, (_, index) => [`key${index}`, 'x'])),
    );
    expect(Object.keys(shape as object)).toHaveLength(32);
    expect(shape).not.toHaveProperty('…');
  });

  it('describes a key too long to be a field name instead of keeping it', () => {
    const shape = payloadShape({ [`${'k'.repeat(64)}tail`]: 1 }) as Record<string, unknown>;
    expect(Object.keys(shape)).toEqual(['<key of 68 characters>']);
  });

  it('never keeps a card number used as a key', () => {
    const shape = payloadShape({ cards: { '6222020012345678': 'granted', plate12345: 1, door: 2 } });
    expect(JSON.stringify(shape)).toBe(
      '{"cards":{"<key of 16 characters>":"string","<key of 10 characters>":"number","door":"number"}}',
    );
  });

  it('keeps a __proto__ key as data', () => {
    const shape = payloadShape(JSON.parse('{"__proto__":{"x":1},"door":1}'));
    expect(JSON.stringify(shape)).toBe('{"__proto__":{"x":"number"},"door":"number"}');
  });

  it('stops descending into objects at depth six', () => {
    expect(payloadShape(nestedObjects(6, 1))).toEqual(nestedObjects(6, 'number'));
    expect(payloadShape(nestedObjects(7, 1))).toEqual(nestedObjects(6, 'object'));
    expect(payloadShape(nestedObjects(50, 'deep'))).toEqual(nestedObjects(6, 'object'));
  });

  it('stops descending into arrays at depth six', () => {
    expect(payloadShape(nestedArrays(6, 1))).toEqual(nestedArrays(6, 'number'));
    expect(payloadShape(nestedArrays(7, 1))).toEqual(nestedArrays(6, 'array'));
  });

  it('stays small for a huge payload', () => {
    const huge = {
      items: Array.from({ length: 100_000 }, (_, index) => ({ index, card: `62220200${index}` })),
      deep: nestedObjects(1_000, 'x'),
    };
    expect(JSON.stringify(payloadShape(huge)).length).toBeLessThan(500);
  });

  it('never keeps a card number given as a string value', () => {
    const card = '6222020012345678';
    const frame = {
      seq: 1,
      event: 'ACCESS_DENIED',
      credential: { type: 'card', number: card },
      history: [card, { card }, [[card]]],
      note: `card ${card} refused`,
    };
    const text = JSON.stringify(payloadShape(frame));
    expect(text).not.toContain(card);
    expect(text).not.toContain('12345678');
  });
});
