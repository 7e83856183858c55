import { describe, expect, it } from 'vitest';
import { demoSecretsInUse } from '../../src/config/demo-guard.ts';
import type { ConfigFile } from '../../src/config/schema.ts';
import { demoConfig, deploymentOf } from '../helpers/hub.ts';

/** The demo's devices with every MQTT secret of its own and the GB/T 28181 passwords `gbPassword` makes. */
function withSecrets(gbPassword: (deviceId: string) => string): ConfigFile {
  const config = demoConfig();
  // The users' password hashes are checked by scrypt, seconds for all of them, and are not what is tested here.
  for (const user of config.users as { passwordHash?: string }[]) delete user.passwordHash;
  config.devices = config.devices.map((device) => {
    const raw = device as unknown as Record<string, unknown> & {
      id: string;
      gb28181?: Record<string, unknown>;
    };
    return {
      ...raw,
      ...(raw.secret === undefined ? {} : { secret: `own-secret-of-${raw.id}-0123456789` }),
      ...(raw.gb28181?.password === undefined
        ? {}
        : { gb28181: { ...raw.gb28181, password: gbPassword(raw.id) } }),
    };
  }) as unknown as ConfigFile['devices'];
  return config;
}

describe("the demo guard and GB/T 28181 devices' passwords", () => {
  it("counts a GB/T 28181 password of the demo's demo-secret-<id> form as a device's demo secret", async () => {
    const found = await demoSecretsInUse(deploymentOf(withSecrets((id) => `demo-secret-${id}`)));
    expect(found).toContain("devices' demo secrets");
  });

  it('lets a GB/T 28181 password of its own pass', async () => {
    const found = await demoSecretsInUse(deploymentOf(withSecrets((id) => `own-sip-password-${id}`)));
    expect(found).not.toContain("devices' demo secrets");
  });
});
