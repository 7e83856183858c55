import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { adapters } from '../../devices/index.ts';
import { adapterMap } from '../../src/adapters.ts';
import { GridhubError } from '../../src/core/errors.ts';

const devicesDir = fileURLToPath(new URL('../../devices/', import.meta.url));
const folders = readdirSync(devicesDir, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort();
const listedIds = adapters.map((adapter) => adapter.id);

describe('the device adapter registry', () => {
  it('has at least one adapter folder and one listed adapter', () => {
    expect(folders.length).toBeGreaterThan(0);
    expect(adapters.length).toBeGreaterThan(0);
  });

  it('lists an adapter for every folder under devices/, by id equal to the folder name', () => {
    const unlisted = folders.filter((folder) => !listedIds.includes(folder));
    expect(unlisted).toEqual([]);
  });

  it('has a folder under devices/ for every listed adapter', () => {
    const withoutFolder = listedIds.filter((id) => !folders.includes(id));
    expect(withoutFolder).toEqual([]);
  });

  it('lists every adapter id once', () => {
    expect(new Set(listedIds).size).toBe(listedIds.length);
  });

  it('indexes every listed adapter by its id', () => {
    const byId = adapterMap(adapters);
    expect([...byId.keys()]).toEqual(listedIds);
    for (const adapter of adapters) expect(byId.get(adapter.id)).toBe(adapter);
  });

  it('refuses an adapter with commands but no replies decoder', () => {
    const [first] = adapters;
    if (first === undefined) throw new Error('no adapter');
    const { replies: _replies, ...withoutReplies } = first;
    expect(Object.keys(first.commands).length).toBeGreaterThan(0);
    expect(() => adapterMap([withoutReplies])).toThrow(/has commands but no replies decoder/);
  });

  it('refuses two adapters with one id as an invalid adapter definition', () => {
    const [first] = adapters;
    if (first === undefined) throw new Error('no adapter is listed');
    const twin = { ...first, description: 'Another adapter that took the same id.' };
    let thrown: unknown;
    try {
      adapterMap([first, twin]);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(GridhubError);
    expect((thrown as GridhubError).code).toBe('GRIDHUB_ADAPTER_INVALID');
    expect((thrown as GridhubError).message).toContain(`"${first.id}"`);
  });

  describe.each(adapters.map((adapter) => ({ id: adapter.id, adapter })))(
    'the adapter $id',
    ({ adapter }) => {
      it('declares what it decodes for its transport: MQTT channels, or ONVIF event topics', () => {
        const channels = Object.entries(adapter.channels);
        if (adapter.transport === 'onvif') {
          expect(channels).toEqual([]);
          const topics = Object.entries(adapter.onvifTopics ?? {});
          expect(topics.length).toBeGreaterThan(0);
          for (const [topic, decode] of topics) expect(typeof decode, topic).toBe('function');
          return;
        }
        expect(channels.length).toBeGreaterThan(0);
        for (const [name, channel] of channels) {
          expect(typeof channel.schema.safeParse, name).toBe('function');
          expect(typeof channel.decode, name).toBe('function');
        }
      });

      it('declares at least one event, each with a description', () => {
        const events = Object.entries(adapter.events);
        expect(events.length).toBeGreaterThan(0);
        for (const [type, event] of events) {
          expect(type).toMatch(/^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/);
          expect(event.description.length, type).toBeGreaterThan(0);
        }
      });

      it('names a vendor, at least one model and what it does', () => {
        expect(adapter.vendor.length).toBeGreaterThan(0);
        expect(adapter.models.length).toBeGreaterThan(0);
        expect(adapter.description.length).toBeGreaterThan(0);
      });
    },
  );
});
