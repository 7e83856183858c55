import { isIP } from 'node:net';
import { verifyPassword } from '../auth/passwords.ts';
import { secretDigest } from '../core/device.ts';
import { GridhubError } from '../core/errors.ts';
import type { Deployment } from './load.ts';
import { defaultIdentifierHashKey } from './schema.ts';

/** The session key config/demo.yaml ships: public, so anyone could sign sessions with it. */
export const demoJwtSecret = 'gridhub-demo-session-key-change-me-0123';

/** The AES key of config/demo.yaml's encrypting alarm panel (and of the docs' examples): public. */
export const demoSiaKey = '00112233445566778899AABBCCDDEEFF';

/** Whether `host` binds loopback only: a demo there is reachable from this machine alone. */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

/**
 * Which of the demo's public secrets the deployment uses: config/demo.yaml and the defaults are in the repository,
 * so a hub using them is open to anyone who read it. Users' `demo-` tokens, the demo session key, the default
 * identifier key, device secrets of the demo's `demo-secret-<id>` form (given as secret or as its digest, or as a GB/T
 * 28181 password), the demo
 * alarm panel's AES key, and passwords of the demo's `demo-password-<id>` form (checked against each hash: only when the address is public).
 */
export async function demoSecretsInUse(deployment: Deployment): Promise<string[]> {
  const { settings } = deployment;
  const found: string[] = [];
  if (deployment.users.some((user) => user.token?.startsWith('demo-'))) found.push("users' demo tokens");
  const demoPasswords = await Promise.all(
    deployment.users.flatMap((user) =>
      user.passwordHash === undefined ? [] : [verifyPassword(`demo-password-${user.id}`, user.passwordHash)],
    ),
  );
  if (
    demoPasswords.includes(true) ||
    deployment.users.some((user) => user.initialPassword === `demo-password-${user.id}`)
  )
    found.push("users' demo passwords");
  // The shipped templates' placeholders (config/compose.yaml through deploy/.env.example) are as public.
  const placeholders = [
    settings.jwtSecret,
    settings.identifierHashKey,
    deployment.mqtt.external?.password,
    ...deployment.users.flatMap((user) => [user.token, user.initialPassword]),
  ];
  if (
    placeholders.some((secret) => secret?.startsWith('CHANGE-ME')) ||
    deployment.devices.some((device) => device.secretDigest === secretDigest(`CHANGE-ME-${device.id}-secret`))
  )
    found.push('CHANGE-ME placeholders');
  if (settings.jwtSecret === demoJwtSecret) found.push('the demo hub.jwtSecret');
  if (settings.identifierHashKey === defaultIdentifierHashKey)
    found.push('the default hub.identifierHashKey');
  // A GB/T 28181 device's SIP password is kept as given (the digest needs it), so it is compared as is.
  if (
    deployment.devices.some(
      (device) =>
        device.secretDigest === secretDigest(`demo-secret-${device.id}`) ||
        device.gb28181?.password === `demo-secret-${device.id}`,
    )
  ) {
    found.push("devices' demo secrets");
  }
  if (deployment.devices.some((device) => device.sia?.key?.toUpperCase() === demoSiaKey)) {
    found.push("alarm panels' demo key");
  }
  return found;
}

/**
 * Refuses to start on a non-loopback address with the demo's public secrets, unless the demo flag says the exposure
 * is meant (GRIDHUB_DEMO=1 or `hub.demo: true`): one line naming what is public and the flag.
 */
export async function checkDemoExposure(
  host: string,
  deployment: Deployment,
  demoFlag: boolean,
): Promise<void> {
  if (demoFlag || deployment.settings.demo || isLoopbackHost(host)) return;
  const inUse = await demoSecretsInUse(deployment);
  if (inUse.length === 0) return;
  throw new GridhubError(
    'GRIDHUB_DEMO_SECRETS',
    `refusing to listen on ${host} with the demo's public secrets (${inUse.join(', ')}): set your own, or set GRIDHUB_DEMO=1 (or hub.demo: true) to run the demo on this network anyway`,
  );
}
