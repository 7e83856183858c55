import { describe, expect, it } from 'vitest';
import { type GridhubError, isGridhubError } from '../../src/core/errors.ts';
import { Hub } from '../../src/hub.ts';
import { demoConfig, demoConfigPath, deploymentOf } from '../helpers/hub.ts';

const redisStore = { kind: 'redis', url: 'redis://127.0.0.1:6379', keyPrefix: 'gridhub-test:mqtt-config:' };
const external = { url: 'mqtt://127.0.0.1:1', username: 'gridhub-hub', password: 'secret' };

function configWith(change: Record<string, unknown>): Record<string, unknown> {
  return { ...(demoConfig() as unknown as Record<string, unknown>), ...change };
}

function problemsOf(config: unknown): readonly string[] {
  try {
    deploymentOf(config);
  } catch (error) {
    if (isGridhubError(error) && error.code === 'GRIDHUB_CONFIG_INVALID') return error.problems;
    throw error;
  }
  throw new Error('the configuration was accepted');
}

describe('the mqtt section of the configuration', () => {
  it('defaults to the embedded broker, so a config without it runs as before', () => {
    expect(deploymentOf(demoConfig()).mqtt).toEqual({
      mode: 'embedded',
      brokerThread: 'auto',
      clustered: { brokerHeartbeatSeconds: 10 },
    });
  });

  it('refuses the modes that span instances on the embedded store, naming the setting', () => {
    for (const mode of ['external', 'clustered']) {
      const problems = problemsOf(configWith({ mqtt: { mode, external } }));
      expect(problems).toEqual([
        expect.stringMatching(new RegExp(`^mqtt.mode: ${mode} .* needs store.kind redis`)),
      ]);
    }
  });

  it('refuses the external mode without its broker, and unknown keys anywhere in the section', () => {
    expect(problemsOf(configWith({ store: redisStore, mqtt: { mode: 'external' } }))).toEqual([
      expect.stringMatching(/^mqtt.external: required when mqtt.mode is external/),
    ]);
    const problems = problemsOf(
      configWith({
        store: redisStore,
        mqtt: { mode: 'external', external: { ...external, shareGroup: 'a/b', qos: 2 } },
      }),
    );
    expect(problems.some((problem) => problem.startsWith('mqtt.external.shareGroup'))).toBe(true);
    expect(problems.some((problem) => problem.includes('qos'))).toBe(true);
  });

  it('fills the external broker’s defaults: MQTT 5, the gridhub share group, a week of session', () => {
    const deployment = deploymentOf(configWith({ store: redisStore, mqtt: { mode: 'external', external } }));
    expect(deployment.mqtt.external).toEqual({
      ...external,
      shareGroup: 'gridhub',
      protocolVersion: 5,
      sessionExpirySeconds: 604_800,
    });
  });

  it('stops a hub on an external broker that has no client id of its own, with a coded error', () => {
    const deployment = deploymentOf(configWith({ store: redisStore, mqtt: { mode: 'external', external } }));
    let thrown: unknown;
    try {
      new Hub({
        deployment,
        runtime: { httpPort: 0, mqttPort: 0, dataDir: '/nonexistent', configPath: demoConfigPath },
      });
    } catch (error) {
      thrown = error;
    }
    expect(isGridhubError(thrown)).toBe(true);
    expect((thrown as GridhubError).problems).toEqual([
      expect.stringMatching(/^mqtt.external.clientId: .*MQTT_CLIENT_ID/),
    ]);
  });
});
