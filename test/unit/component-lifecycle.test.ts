import { describe, expect, it } from 'vitest';
import { type Component, component } from '../../src/core/component.ts';
import { Lifecycle } from '../../src/core/lifecycle.ts';

/** Components that write what they do into `steps`; `failing` throws from its start. */
function recorded(
  steps: string[],
  names: readonly string[],
  options: { failing?: string; outlets?: string[] } = {},
) {
  return names.map(
    (name): Component =>
      component(name, {
        start: () => {
          steps.push(`start ${name}`);
          if (name === options.failing) throw new Error(`${name} failed`);
        },
        stop: () => {
          steps.push(`stop ${name}`);
        },
        health: () => (name === 'quiet' ? undefined : { state: 'up', name }),
        stopsFirst: options.outlets?.includes(name) === true,
      }),
  );
}

describe('a lifecycle of components', () => {
  it('starts them in the order of the list and stops them in reverse, outlets first', async () => {
    const steps: string[] = [];
    const lifecycle = new Lifecycle(
      recorded(steps, ['store', 'http', 'realtime', 'mqtt'], { outlets: ['realtime'] }),
    );
    await lifecycle.start();
    await lifecycle.stop();
    expect(steps).toEqual([
      'start store',
      'start http',
      'start realtime',
      'start mqtt',
      'stop realtime',
      'stop mqtt',
      'stop http',
      'stop store',
    ]);
  });

  it('stops only what it began when a start fails, the failed one included, and throws its error', async () => {
    const steps: string[] = [];
    const lifecycle = new Lifecycle(recorded(steps, ['store', 'http', 'mqtt'], { failing: 'http' }));
    await expect(lifecycle.start()).rejects.toThrow('http failed');
    expect(steps).toEqual(['start store', 'start http', 'stop http', 'stop store']);
    await lifecycle.stop();
    expect(steps).toHaveLength(4);
  });

  it('names the component still stopping, and none once stopped', async () => {
    let release: () => void = () => undefined;
    const lifecycle = new Lifecycle([
      component('store', {}),
      component('http', { stop: () => new Promise<void>((resolve) => (release = resolve)) }),
    ]);
    await lifecycle.start();
    const stopped = lifecycle.stop();
    expect(lifecycle.stopping).toBe('http');
    release();
    await stopped;
    expect(lifecycle.stopping).toBeUndefined();
  });

  it('reports the health of those that tell it, by name', () => {
    const lifecycle = new Lifecycle(recorded([], ['store', 'quiet', 'mqtt']));
    expect(lifecycle.health()).toEqual({
      store: { state: 'up', name: 'store' },
      mqtt: { state: 'up', name: 'mqtt' },
    });
  });

  it('refuses two components of one name', () => {
    expect(() => new Lifecycle([component('store', {}), component('store', {})])).toThrow(
      'two components named store',
    );
  });
});
