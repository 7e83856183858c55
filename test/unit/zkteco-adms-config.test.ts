import { describe, expect, it } from 'vitest';
import { adapters } from '../../devices/index.ts';
import { adapterMap } from '../../src/adapters.ts';
import { resolveDeployment } from '../../src/config/load.ts';
import { GridhubError } from '../../src/core/errors.ts';
import { demoConfig } from '../helpers/hub.ts';

/** A ZKTeco ADMS terminal in a config: known by its serial number, with no secret, on the device HTTP listener. */

const terminal = {
  id: 'zk-test',
  name: 'ZKTeco test terminal',
  adapter: 'zkteco-adms',
  grid: 'grid-xijiao-01',
};

function problemsOf(device: Record<string, unknown>, receivers: unknown = { http: { port: 0 } }): string[] {
  const config = demoConfig() as unknown as { devices: unknown[]; receivers?: unknown };
  config.devices = [device];
  config.receivers = receivers;
  try {
    resolveDeployment(config, adapterMap(adapters), 'test');
    return [];
  } catch (error) {
    if (!(error instanceof GridhubError)) throw error;
    return [...error.problems];
  }
}

describe('a ZKTeco ADMS terminal in the configuration', () => {
  it('resolves with its serial alone, and has no secret any password could match', () => {
    const config = demoConfig() as unknown as { devices: unknown[] };
    config.devices = [{ ...terminal, serial: 'CGXH221260009' }];
    const deployment = resolveDeployment(config, adapterMap(adapters), 'test');
    expect(deployment.devices[0]).toMatchObject({ id: 'zk-test', serial: 'CGXH221260009', secretDigest: '' });
  });

  it('needs its serial number', () => {
    expect(problemsOf(terminal)).toEqual([
      expect.stringMatching(/^devices\[0\]\.serial: an ADMS terminal is known by its serial/),
    ]);
  });

  it('takes no secret: ADMS carries none', () => {
    expect(problemsOf({ ...terminal, serial: 'S1', secret: 'a'.repeat(16) })).toEqual([
      expect.stringContaining('an ADMS terminal has no secret'),
    ]);
  });

  it('needs the device HTTP listener it pushes to', () => {
    expect(problemsOf({ ...terminal, serial: 'S1' }, {})).toEqual([
      expect.stringContaining('turn on receivers.http'),
    ]);
  });
});
