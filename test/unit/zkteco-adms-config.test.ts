import { describe, expect, it } from 'vitest';
import { adapters } from '../../devices/index.ts';
import { adapterMap } from '../../src/adapters.ts';
import { resolveDeployment } from '../../src/config/load.ts';
import { GridhubError } from '../../src/core/errors.ts';
import { addressAllowed } from '../../src/net/outbound-address.ts';
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

  it('takes pushFrom, the networks it may push from, and refuses it on a device that does not push', () => {
    expect(problemsOf({ ...terminal, serial: 'S1', pushFrom: ['10.20.0.0/16', '192.168.1.7'] })).toEqual([]);
    expect(problemsOf({ ...terminal, serial: 'S1', pushFrom: ['10.20.0.1/16'] })).toEqual([
      expect.stringMatching(/^devices\[0\]\.pushFrom\[0\]: .*host bits set/),
    ]);
    expect(
      problemsOf({
        id: 'gate-x',
        name: 'Gate',
        adapter: 'gate-access',
        grid: 'grid-xijiao-01',
        secret: 'a'.repeat(16),
        pushFrom: ['private'],
      }),
    ).toEqual([expect.stringContaining('devices[0].pushFrom: only devices that push over HTTP')]);
  });

  it('reads a request’s address against pushFrom as an allow-list: loopback only when named', () => {
    expect(addressAllowed(['10.20.0.0/16'], '10.20.3.4')).toBe(true);
    expect(addressAllowed(['10.20.0.0/16'], '::ffff:10.20.3.4')).toBe(true);
    expect(addressAllowed(['10.20.0.0/16'], '10.21.0.1')).toBe(false);
    expect(addressAllowed(['private'], '127.0.0.1')).toBe(false);
    expect(addressAllowed(['127.0.0.1'], '127.0.0.1')).toBe(true);
    expect(addressAllowed(['private'], 'not an address')).toBe(false);
  });

  it('needs the device HTTP listener it pushes to', () => {
    expect(problemsOf({ ...terminal, serial: 'S1' }, {})).toEqual([
      expect.stringContaining('turn on receivers.http'),
    ]);
  });
});
