import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import type { DeviceAdapter } from '../core/adapter.ts';
import { GridhubError } from '../core/errors.ts';
import { type GridEntry, Jurisdiction } from '../jurisdiction/jurisdiction.ts';
import {
  type ConfigFile,
  configSchema,
  type HubSettings,
  type RuleConfig,
  type UserConfig,
} from './schema.ts';

/** A device as the hub runs it: its adapter found and its grid resolved, by id or by location. */
export interface ResolvedDevice {
  readonly id: string;
  readonly name: string;
  readonly adapter: DeviceAdapter;
  readonly grid: GridEntry;
}

/** Everything the configuration file says, validated and cross-referenced. */
export interface Deployment {
  readonly settings: HubSettings;
  readonly jurisdiction: Jurisdiction;
  readonly users: readonly UserConfig[];
  readonly devices: readonly ResolvedDevice[];
  readonly rules: readonly RuleConfig[];
}

/** Where the hub listens and keeps its data: from the environment, over defaults. */
export interface RuntimeSettings {
  readonly httpPort: number;
  readonly mqttPort: number;
  readonly dataDir: string;
  readonly configPath: string;
}

const port = z.coerce.number().int().min(0).max(65535);
/** A variable set to nothing (`PORT= npm start`) counts as unset, not as 0 or as an empty path. */
const blankAsUnset = (value: unknown): unknown =>
  typeof value === 'string' && value.trim() === '' ? undefined : value;
const environmentSchema = z.object({
  PORT: z
    .preprocess(blankAsUnset, port.default(8080))
    .describe('HTTP, Socket.IO and MQTT-over-WebSocket port'),
  MQTT_PORT: z
    .preprocess(blankAsUnset, port.default(1883))
    .describe('MQTT (TCP) port of the embedded broker'),
  GRIDHUB_CONFIG: z.preprocess(blankAsUnset, z.string().optional()),
  DATA_DIR: z.preprocess(blankAsUnset, z.string().optional()),
});

function formatPath(segments: readonly PropertyKey[]): string {
  return segments.reduce<string>((text, segment) => {
    if (typeof segment === 'number') return `${text}[${segment}]`;
    return text === '' ? String(segment) : `${text}.${String(segment)}`;
  }, '');
}

function issuesToProblems(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.map((issue) => `${formatPath(issue.path) || '(root)'}: ${issue.message}`);
}

export function readRuntimeSettings(env: NodeJS.ProcessEnv, projectRoot: string): RuntimeSettings {
  const parsed = environmentSchema.safeParse(env);
  if (!parsed.success) {
    throw new GridhubError('GRIDHUB_CONFIG_INVALID', 'invalid environment', {
      problems: issuesToProblems(parsed.error.issues),
    });
  }
  const { PORT, MQTT_PORT, GRIDHUB_CONFIG, DATA_DIR } = parsed.data;
  return {
    httpPort: PORT,
    mqttPort: MQTT_PORT,
    configPath: path.resolve(GRIDHUB_CONFIG ?? path.join(projectRoot, 'config', 'demo.yaml')),
    dataDir: path.resolve(DATA_DIR ?? path.join(projectRoot, 'data')),
  };
}

/** Reads and resolves a YAML or JSON configuration file (JSON is YAML). */
export function loadDeployment(configPath: string, adapters: ReadonlyMap<string, DeviceAdapter>): Deployment {
  let text: string;
  try {
    text = readFileSync(configPath, 'utf8');
  } catch (error) {
    throw new GridhubError(
      'GRIDHUB_CONFIG_UNREADABLE',
      `cannot read ${configPath}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  const document = parseDocument(text, { uniqueKeys: true, prettyErrors: false });
  if (document.errors.length > 0) {
    throw new GridhubError('GRIDHUB_CONFIG_INVALID', `${configPath} is not valid YAML`, {
      problems: document.errors.map(
        (error) => `line ${(error.linePos?.[0].line ?? 0).toString()}: ${error.code}`,
      ),
    });
  }
  return resolveDeployment(document.toJS(), adapters, configPath);
}

/**
 * Validates a configuration object and resolves its cross-references. Every problem is collected and reported
 * at once, each with its path, so an operator fixes the file in one pass.
 */
export function resolveDeployment(
  raw: unknown,
  adapters: ReadonlyMap<string, DeviceAdapter>,
  source = 'configuration',
): Deployment {
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    throw new GridhubError('GRIDHUB_CONFIG_INVALID', `${source} is invalid`, {
      problems: issuesToProblems(parsed.error.issues),
    });
  }
  const problems: string[] = [];
  const deployment = crossReference(parsed.data, adapters, problems);
  if (problems.length > 0) {
    throw new GridhubError('GRIDHUB_CONFIG_INVALID', `${source} is invalid`, { problems });
  }
  return deployment;
}

function findDuplicates(values: readonly string[]): Set<string> {
  const seen = new Set<string>();
  const duplicates = new Set<string>();
  for (const value of values) (seen.has(value) ? duplicates : seen).add(value);
  return duplicates;
}

function crossReference(
  file: ConfigFile,
  adapters: ReadonlyMap<string, DeviceAdapter>,
  problems: string[],
): Deployment {
  const jurisdiction = new Jurisdiction(file.jurisdiction);

  const nodeIds: string[] = [];
  const collect = (node: { id: string; children?: readonly { id: string }[] }, at: string): void => {
    nodeIds.push(node.id);
    node.children?.forEach((child, index) => {
      collect(child, `${at}.children[${index}]`);
    });
  };
  collect(file.jurisdiction, 'jurisdiction');
  for (const id of findDuplicates(nodeIds))
    problems.push(`jurisdiction: node id "${id}" is used more than once`);

  checkUsers(file.users, jurisdiction, problems);
  const devices = resolveDevices(file, jurisdiction, adapters, problems);
  checkRules(file.rules, adapters, problems);

  return { settings: file.hub, jurisdiction, users: file.users, devices, rules: file.rules };
}

function checkUsers(users: readonly UserConfig[], jurisdiction: Jurisdiction, problems: string[]): void {
  for (const id of findDuplicates(users.map((user) => user.id)))
    problems.push(`users: id "${id}" is used more than once`);
  if (findDuplicates(users.map((user) => user.token)).size > 0)
    problems.push('users: two users share a token');
  users.forEach((user, index) => {
    const at = `users[${index}]`;
    if (user.role === 'grid_worker') {
      if (user.grids === undefined) problems.push(`${at}.grids: a grid worker needs the grids they work in`);
      if (user.scope !== undefined) problems.push(`${at}.scope: a grid worker is scoped by grids, not scope`);
      user.grids?.forEach((gridId, gridIndex) => {
        if (jurisdiction.grid(gridId) === undefined)
          problems.push(`${at}.grids[${gridIndex}]: no grid "${gridId}"`);
      });
      return;
    }
    if (user.grids !== undefined) problems.push(`${at}.grids: only grid workers have grids; use scope`);
    if (user.scope === undefined) problems.push(`${at}.scope: a ${user.role} needs a scope node`);
    else if (jurisdiction.node(user.scope) === undefined)
      problems.push(`${at}.scope: no node "${user.scope}"`);
  });
}

function resolveDevices(
  file: ConfigFile,
  jurisdiction: Jurisdiction,
  adapters: ReadonlyMap<string, DeviceAdapter>,
  problems: string[],
): ResolvedDevice[] {
  for (const id of findDuplicates(file.devices.map((device) => device.id))) {
    problems.push(`devices: id "${id}" is used more than once`);
  }
  const resolved: ResolvedDevice[] = [];
  file.devices.forEach((device, index) => {
    const at = `devices[${index}]`;
    const adapter = adapters.get(device.adapter);
    if (adapter === undefined) {
      problems.push(
        `${at}.adapter: no adapter "${device.adapter}" (known: ${[...adapters.keys()].join(', ')})`,
      );
    }
    let grid: GridEntry | undefined;
    if ((device.grid === undefined) === (device.location === undefined)) {
      problems.push(`${at}: give exactly one of grid and location`);
    } else if (device.grid !== undefined) {
      grid = jurisdiction.grid(device.grid);
      if (grid === undefined) problems.push(`${at}.grid: no grid "${device.grid}"`);
    } else if (device.location !== undefined) {
      const [lon, lat] = device.location;
      grid = jurisdiction.locate(lon, lat);
      if (grid === undefined) problems.push(`${at}.location: [${lon}, ${lat}] lies in no grid`);
    }
    if (adapter !== undefined && grid !== undefined)
      resolved.push({ id: device.id, name: device.name, adapter, grid });
  });
  return resolved;
}

function checkRules(
  rules: readonly RuleConfig[],
  adapters: ReadonlyMap<string, DeviceAdapter>,
  problems: string[],
): void {
  for (const event of findDuplicates(rules.map((rule) => rule.event))) {
    problems.push(`rules: event "${event}" has more than one rule`);
  }
  const known = new Set([...adapters.values()].flatMap((adapter) => Object.keys(adapter.events)));
  rules.forEach((rule, index) => {
    if (!known.has(rule.event)) problems.push(`rules[${index}].event: no adapter emits "${rule.event}"`);
  });
}
