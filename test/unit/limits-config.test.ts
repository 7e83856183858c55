import { describe, expect, it } from 'vitest';
import type { GridhubError } from '../../src/core/errors.ts';
import { demoConfig, deploymentOf } from '../helpers/hub.ts';

describe('the limits section of the configuration', () => {
  it('has defaults for every limit when left out', () => {
    expect(deploymentOf(demoConfig()).limits).toEqual({
      mqtt: { connectPacketBytes: 8192, connectTimeoutSeconds: 10 },
      auth: {
        perAddress: { maxFailures: 30, windowSeconds: 60, lockoutSeconds: 300 },
        perIdentity: { maxFailures: 100, windowSeconds: 60, lockoutSeconds: 60 },
        trackedKeys: 10_000,
      },
      realtime: { maxBufferedBytes: 8 * 2 ** 20 },
    });
  });

  it('refuses a packet limit that would close a connection for a payload the hub accepts', () => {
    const config = demoConfig();
    Object.assign(config, { limits: { mqtt: { packetBytes: 8192 } } });
    let problems: readonly string[] = [];
    try {
      deploymentOf(config);
    } catch (error) {
      problems = (error as GridhubError).problems;
    }
    expect(problems).toEqual([expect.stringMatching(/^limits\.mqtt\.packetBytes: 8192 would close/)]);
  });
});
