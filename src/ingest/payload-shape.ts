import { minimiseKey } from '../core/problems.ts';

/**
 * The structure of a JSON value with every leaf replaced by its type: `{"card":"12345678"}` → `{"card":"string"}`.
 * Dead letters keep this instead of the payload, so an integrator sees what a device sent wrong while the hub
 * keeps none of the residents' identifiers it may have carried. Bounded in depth and breadth.
 */
const MAX_DEPTH = 6;
const MAX_KEYS = 32;
const MAX_ITEMS = 4;

export function payloadShape(value: unknown, depth = 0): unknown {
  if (value === null) return 'null';
  if (Array.isArray(value)) {
    if (depth >= MAX_DEPTH) return 'array';
    const items = value.slice(0, MAX_ITEMS).map((item) => payloadShape(item, depth + 1));
    return value.length > MAX_ITEMS ? [...items, `…${value.length - MAX_ITEMS} more`] : items;
  }
  if (typeof value === 'object') {
    if (depth >= MAX_DEPTH) return 'object';
    const entries = Object.entries(value as Record<string, unknown>);
    // A null-prototype object, so a `__proto__` key is kept as data like any other.
    const shape: Record<string, unknown> = Object.create(null);
    for (const [key, item] of entries.slice(0, MAX_KEYS))
      shape[minimiseKey(key)] = payloadShape(item, depth + 1);
    if (entries.length > MAX_KEYS) shape['…'] = `${entries.length - MAX_KEYS} more keys`;
    return shape;
  }
  return typeof value;
}
