import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { adapters } from '../devices/index.ts';
import { adapterMap } from '../src/adapters.ts';
import { type Deployment, resolveDeployment } from '../src/config/load.ts';

/** The benchmark's deployment: the demo jurisdiction, rules and users, plus `extra` devices spread over its grids. */
export const projectRoot = path.resolve(import.meta.dirname, '..');
const demoPath = path.join(projectRoot, 'config', 'demo.yaml');

export type Family = 'gate' | 'sentry';

export interface BenchDevice {
  readonly id: string;
  readonly secret: string;
  readonly family: Family;
}

interface RawConfig {
  devices: { id: string; name?: string; adapter: string; secret?: string; grid?: string }[];
  users: { id: string; role: string; scope?: string; token?: string }[];
  jurisdiction: unknown;
}

function demoRaw(): RawConfig {
  return parse(readFileSync(demoPath, 'utf8')) as RawConfig;
}

function gridsOf(node: unknown, out: string[] = []): string[] {
  const n = node as { id: string; level: string; children?: unknown[] };
  if (n.level === 'grid') out.push(n.id);
  for (const child of n.children ?? []) gridsOf(child, out);
  return out;
}

/** Every MQTT device of the bench deployment (demo gates and sentry boxes first, then the extras). */
export function benchDevices(extra: number): { raw: RawConfig; devices: BenchDevice[] } {
  const raw = demoRaw();
  const grids = gridsOf(raw.jurisdiction);
  const devices: BenchDevice[] = [];
  for (const device of raw.devices) {
    if (device.secret === undefined) continue;
    if (device.adapter === 'gate-access')
      devices.push({ id: device.id, secret: device.secret, family: 'gate' });
    if (device.adapter === 'sentry-box')
      devices.push({ id: device.id, secret: device.secret, family: 'sentry' });
  }
  for (let index = 0; index < extra; index += 1) {
    // One sentry box for every nine gates, as in the demo's proportions.
    const family: Family = index % 10 === 9 ? 'sentry' : 'gate';
    const id = `bench-${family}-${String(index).padStart(5, '0')}`;
    const secret = `bench-secret-${id}`;
    raw.devices.push({
      id,
      name: `Bench ${family} ${index}`,
      adapter: family === 'gate' ? 'gate-access' : 'sentry-box',
      secret,
      grid: grids[index % grids.length] as string,
    });
    devices.push({ id, secret, family });
  }
  return { raw, devices };
}

export function benchDeployment(extra: number): Deployment {
  return resolveDeployment(benchDevices(extra).raw, adapterMap(adapters), 'bench configuration');
}

/** Socket.IO tokens: duty officers of every level first, then chiefs and grid workers (never integrators). */
/** The demo's district duty officer's token: every incident of the district is pushed to them. */
export function districtOfficerToken(): string {
  const officer = demoRaw().users.find(
    (user) => user.role === 'duty_officer' && user.scope?.startsWith('district-'),
  );
  if (officer?.token === undefined) throw new Error('the demo has no district duty officer with a token');
  return officer.token;
}

export function clientTokens(): string[] {
  const users = demoRaw().users.filter((user) => user.token !== undefined && user.role !== 'integrator');
  const order = ['duty_officer', 'grid_chief', 'grid_worker'];
  users.sort((a, b) => order.indexOf(a.role) - order.indexOf(b.role));
  return users.map((user) => user.token as string);
}
