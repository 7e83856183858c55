import { createHash } from 'node:crypto';
import { accessSync, constants, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { type DeviceAdapter, livenessEvents } from '../core/adapter.ts';
import { GridhubError } from '../core/errors.ts';
import { zodProblems } from '../core/problems.ts';
import { type GridEntry, Jurisdiction } from '../jurisdiction/jurisdiction.ts';
import {
  type ConfigFile,
  type CorrelationConfig,
  configSchema,
  type DeadlinesConfig,
  type DeviceConfig,
  type FloodConfig,
  type HubSettings,
  type RosterConfig,
  type RoutingConfig,
  type RuleConfig,
  type SuppressionConfig,
  type UserConfig,
} from './schema.ts';
import { resolveSecretReferences, type SecretSources } from './secret-references.ts';
import type { HttpConfig, TlsConfig } from './security-schema.ts';

/** A device as the hub runs it: its adapter found, its grid resolved (by id or by location), its timings set. */
export interface ResolvedDevice {
  readonly id: string;
  readonly name: string;
  readonly adapter: DeviceAdapter;
  readonly grid: GridEntry;
  /** Where the device was placed from: its `location` when it had one. */
  readonly location?: readonly [number, number];
  /** SHA-256 (hex) of the device's MQTT password. */
  readonly secretDigest: string;
  readonly offlineAfterMs: number;
  readonly watchdogs: readonly ResolvedWatchdog[];
  /** ONVIF cameras: how to reach the camera. */
  readonly onvif?: { readonly xaddr: string; readonly username: string; readonly password: string };
  /** Cameras: the devices they look at, each with the PTZ preset pointing at it, if any. */
  readonly watches?: readonly { readonly deviceId: string; readonly preset?: string }[];
}

export interface ResolvedWatchdog {
  readonly resetBy: string;
  readonly raises: string;
  readonly afterMs: number;
}

/** The part of a device's description that both the config file and the provisioning API give. */
export type DeviceDescription = Omit<DeviceConfig, 'secret' | 'secretSha256'>;

/** An ONVIF camera has no MQTT secret (the hub logs in to it): an empty digest that no password matches. */
export const noMqttSecret = '';

export function secretDigest(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** Everything the configuration file says, validated and cross-referenced. */
export interface Deployment {
  readonly settings: HubSettings;
  readonly rosters: readonly RosterConfig[];
  readonly deadlines: DeadlinesConfig;
  readonly routing: RoutingConfig;
  readonly outbound: ConfigFile['outbound'];
  readonly media: ConfigFile['media'];
  readonly store: ConfigFile['store'];
  readonly mqtt: ConfigFile['mqtt'];
  readonly cluster: ConfigFile['cluster'];
  readonly adapters: ReadonlyMap<string, DeviceAdapter>;
  readonly jurisdiction: Jurisdiction;
  readonly users: readonly UserConfig[];
  readonly devices: readonly ResolvedDevice[];
  readonly rules: readonly RuleConfig[];
  readonly correlations: readonly CorrelationConfig[];
  readonly suppressions: readonly SuppressionConfig[];
  readonly flood: FloodConfig;
  /** TLS on the listeners, its file paths absolute. */
  readonly tls: TlsConfig | undefined;
  readonly http: HttpConfig;
}

/** Where the hub listens and keeps its data: from the environment, over defaults. */
export interface RuntimeSettings {
  readonly httpPort: number;
  readonly mqttPort: number;
  readonly dataDir: string;
  readonly configPath: string;
  /** This instance's MQTT client id on an external broker (MQTT_CLIENT_ID), over `mqtt.external.clientId`. */
  readonly mqttClientId?: string;
  /** GRIDHUB_DEMO=1: the demo's public secrets may be used on a non-loopback address (see demo-guard.ts). */
  readonly demo?: boolean;
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
  MQTT_CLIENT_ID: z
    .preprocess(
      blankAsUnset,
      z
        .string()
        .regex(/^[A-Za-z0-9._:-]{1,64}$/)
        .optional(),
    )
    .describe(
      "This instance's client id on the external broker; one config file, a different id per instance",
    ),
  GRIDHUB_DEMO: z
    .preprocess(blankAsUnset, z.enum(['0', '1', 'true', 'false']).optional())
    .describe("1: run with the demo's public secrets on a non-loopback address"),
});

export function readRuntimeSettings(env: NodeJS.ProcessEnv, projectRoot: string): RuntimeSettings {
  const parsed = environmentSchema.safeParse(env);
  if (!parsed.success) {
    throw new GridhubError('GRIDHUB_CONFIG_INVALID', 'invalid environment', {
      problems: zodProblems(parsed.error),
    });
  }
  const { PORT, MQTT_PORT, GRIDHUB_CONFIG, DATA_DIR, MQTT_CLIENT_ID, GRIDHUB_DEMO } = parsed.data;
  return {
    httpPort: PORT,
    mqttPort: MQTT_PORT,
    configPath: path.resolve(GRIDHUB_CONFIG ?? path.join(projectRoot, 'config', 'demo.yaml')),
    dataDir: path.resolve(DATA_DIR ?? path.join(projectRoot, 'data')),
    ...(MQTT_CLIENT_ID === undefined ? {} : { mqttClientId: MQTT_CLIENT_ID }),
    ...(GRIDHUB_DEMO === '1' || GRIDHUB_DEMO === 'true' ? { demo: true } : {}),
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
  return resolveDeployment(document.toJS(), adapters, configPath, {
    env: process.env,
    baseDir: path.dirname(configPath),
  });
}

/**
 * Validates a configuration object and resolves its cross-references. Every problem is collected and reported
 * at once, each with its path, so an operator fixes the file in one pass.
 */
export function resolveDeployment(
  raw: unknown,
  adapters: ReadonlyMap<string, DeviceAdapter>,
  source = 'configuration',
  sources: SecretSources = { env: process.env, baseDir: process.cwd() },
): Deployment {
  // Secrets named by reference ({env: NAME}, {file: path}) first: the schema checks what they hold.
  const secrets = resolveSecretReferences(raw, sources);
  const parsed = configSchema.safeParse(secrets.config);
  if (!parsed.success || secrets.problems.length > 0) {
    // A reference that did not resolve is reported once, as itself, not again as a missing value.
    const schemaProblems = parsed.success
      ? []
      : zodProblems(parsed.error).filter(
          (problem) => ![...secrets.unresolved].some((at) => problem.startsWith(`${at}:`)),
        );
    throw new GridhubError('GRIDHUB_CONFIG_INVALID', `${source} is invalid`, {
      problems: [...secrets.problems, ...schemaProblems],
    });
  }
  const problems: string[] = [];
  const deployment = crossReference(
    resolveFilePaths(parsed.data, sources.baseDir, problems),
    adapters,
    problems,
  );
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
  const deviceIds = new Set(file.devices.map((device) => device.id));
  file.devices.forEach((device, index) => {
    device.watches?.forEach((watched, watchedIndex) => {
      if (!deviceIds.has(watched))
        problems.push(`devices[${index}].watches[${watchedIndex}]: no device "${watched}"`);
    });
    for (const watched of Object.keys(device.presets ?? {})) {
      if (!device.watches?.includes(watched)) {
        problems.push(`devices[${index}].presets.${watched}: a preset is for a device the camera watches`);
      }
    }
  });
  const known = knownEvents(adapters);
  checkRules(file.rules, known, problems);
  const ruled = new Set(file.rules.map((rule) => rule.event));
  checkCorrelations(file, known, ruled, problems);
  checkSuppressions(file, jurisdiction, known, ruled, problems);

  checkRosters(file, jurisdiction, problems);
  checkMqtt(file, problems);
  return {
    settings: file.hub,
    adapters,
    jurisdiction,
    users: file.users,
    devices,
    rules: file.rules,
    rosters: file.rosters,
    deadlines: file.deadlines,
    routing: file.routing,
    outbound: file.outbound,
    media: file.media,
    store: file.store,
    mqtt: file.mqtt,
    cluster: file.cluster,
    correlations: file.correlations,
    suppressions: file.suppressions,
    flood: file.flood,
    tls: file.tls,
    http: file.http,
  };
}

/**
 * The certificate and CA files the config names, as absolute paths (relative ones start at the configuration
 * file's directory), each checked readable now rather than found missing on the first connection.
 */
function resolveFilePaths(file: ConfigFile, baseDir: string, problems: string[]): ConfigFile {
  const resolve = (value: string, at: string): string => {
    const absolute = path.resolve(baseDir, value);
    try {
      accessSync(absolute, constants.R_OK);
    } catch (error) {
      problems.push(`${at}: cannot read ${absolute} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    return absolute;
  };
  const { tls, store, mqtt } = file;
  if (tls !== undefined && tls.clientCertificates !== 'off') {
    if (tls.ca === undefined) problems.push('tls.ca: client certificates need the CA that signs them');
    if (!tls.mqtt) problems.push('tls.clientCertificates: client certificates are for MQTTS (tls.mqtt)');
  }
  return {
    ...file,
    tls:
      tls === undefined
        ? undefined
        : {
            ...tls,
            cert: resolve(tls.cert, 'tls.cert'),
            key: resolve(tls.key, 'tls.key'),
            ...(tls.ca === undefined ? {} : { ca: resolve(tls.ca, 'tls.ca') }),
          },
    store:
      store.kind === 'redis' && store.ca !== undefined
        ? { ...store, ca: resolve(store.ca, 'store.ca') }
        : store,
    mqtt:
      mqtt.external?.ca === undefined
        ? mqtt
        : { ...mqtt, external: { ...mqtt.external, ca: resolve(mqtt.external.ca, 'mqtt.external.ca') } },
  };
}

/** The modes that span several instances need what they share: Redis, and for external, the broker. */
function checkMqtt(file: ConfigFile, problems: string[]): void {
  const { mode } = file.mqtt;
  if (mode !== 'embedded' && file.store.kind !== 'redis') {
    problems.push(
      `mqtt.mode: ${mode} spreads devices over several instances, which must share incidents: it needs store.kind redis`,
    );
  }
  if (mode === 'external' && file.mqtt.external === undefined) {
    problems.push('mqtt.external: required when mqtt.mode is external (url, username, password)');
  }
}

function checkRosters(file: ConfigFile, jurisdiction: Jurisdiction, problems: string[]): void {
  for (const grid of findDuplicates(file.rosters.map((roster) => roster.grid))) {
    problems.push(`rosters: grid "${grid}" has more than one roster`);
  }
  const workers = new Map(file.users.map((user) => [user.id, user]));
  file.rosters.forEach((roster, index) => {
    if (jurisdiction.grid(roster.grid) === undefined)
      problems.push(`rosters[${index}].grid: no grid "${roster.grid}"`);
    roster.shifts.forEach((shift, shiftIndex) => {
      shift.users.forEach((userId, userIndex) => {
        const user = workers.get(userId);
        if (user?.role !== 'grid_worker' || !user.grids?.includes(roster.grid)) {
          problems.push(
            `rosters[${index}].shifts[${shiftIndex}].users[${userIndex}]: "${userId}" is not a grid worker of ${roster.grid}`,
          );
        }
      });
    });
  });
}

function checkUsers(users: readonly UserConfig[], jurisdiction: Jurisdiction, problems: string[]): void {
  for (const id of findDuplicates(users.map((user) => user.id)))
    problems.push(`users: id "${id}" is used more than once`);
  if (findDuplicates(users.map((user) => user.token)).size > 0)
    problems.push('users: two users share a token');
  users.forEach((user, index) => {
    const at = `users[${index}]`;
    if (user.role === 'grid_worker' || user.role === 'grid_chief') {
      const who = user.role.replace('_', ' ');
      if (user.grids === undefined) problems.push(`${at}.grids: a ${who} needs the grids they work in`);
      if (user.scope !== undefined) problems.push(`${at}.scope: a ${who} is scoped by grids, not scope`);
      user.grids?.forEach((gridId, gridIndex) => {
        if (jurisdiction.grid(gridId) === undefined)
          problems.push(`${at}.grids[${gridIndex}]: no grid "${gridId}"`);
      });
      return;
    }
    if (user.grids !== undefined)
      problems.push(`${at}.grids: only grid workers and chiefs have grids; use scope`);
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
    const onvif = adapters.get(device.adapter)?.transport === 'onvif';
    const credentialProblem = onvif
      ? device.onvif === undefined
        ? `${at}.onvif: an ONVIF camera needs its xaddr, username and password`
        : device.secret !== undefined || device.secretSha256 !== undefined
          ? `${at}: an ONVIF camera has no MQTT secret; give its onvif credentials`
          : undefined
      : (device.secret === undefined) === (device.secretSha256 === undefined)
        ? `${at}: give exactly one of secret and secretSha256: every device has its own credentials`
        : device.onvif !== undefined || device.watches !== undefined || device.presets !== undefined
          ? `${at}: onvif, watches and presets are for ONVIF cameras only`
          : undefined;
    if (credentialProblem !== undefined) {
      problems.push(credentialProblem);
      return;
    }
    const digest = onvif ? noMqttSecret : (device.secretSha256 ?? secretDigest(device.secret as string));
    const result = resolveDevice(device, digest, jurisdiction, adapters, at);
    if ('problems' in result) problems.push(...result.problems);
    else resolved.push(result.device);
  });
  return resolved;
}

/**
 * Resolves one device description: its adapter, its grid (by id, or the polygon containing its location), its
 * offline threshold and watchdogs. Used for the config file's devices and for devices provisioned over the API.
 */
export function resolveDevice(
  device: DeviceDescription,
  digest: string,
  jurisdiction: Jurisdiction,
  adapters: ReadonlyMap<string, DeviceAdapter>,
  at: string,
): { device: ResolvedDevice } | { problems: string[] } {
  const problems: string[] = [];
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
  const overrides = device.watchdogs ?? {};
  for (const raised of Object.keys(overrides)) {
    if (adapter !== undefined && !adapter.watchdogs?.some((watchdog) => watchdog.raises === raised)) {
      problems.push(`${at}.watchdogs.${raised}: the ${adapter.id} adapter has no watchdog raising it`);
    }
  }
  if (adapter === undefined || grid === undefined || problems.length > 0) return { problems };
  const watchdogs = (adapter.watchdogs ?? []).map((watchdog) => ({
    resetBy: watchdog.resetBy,
    raises: watchdog.raises,
    afterMs: (overrides[watchdog.raises] ?? watchdog.defaultSeconds) * 1000,
  }));
  return {
    device: {
      id: device.id,
      name: device.name,
      adapter,
      grid,
      ...(device.location === undefined ? {} : { location: device.location }),
      secretDigest: digest,
      offlineAfterMs: (device.offlineAfterSeconds ?? adapter.liveness.offlineAfterSeconds) * 1000,
      watchdogs,
      ...(device.onvif === undefined ? {} : { onvif: device.onvif }),
      ...(device.watches === undefined
        ? {}
        : {
            watches: device.watches.map((deviceId) => ({
              deviceId,
              ...(device.presets?.[deviceId] === undefined ? {} : { preset: device.presets[deviceId] }),
            })),
          }),
    },
  };
}

/** Every event type some adapter emits, and the hub's own liveness events. */
function knownEvents(adapters: ReadonlyMap<string, DeviceAdapter>): ReadonlySet<string> {
  return new Set([
    ...Object.keys(livenessEvents),
    ...[...adapters.values()].flatMap((adapter) => Object.keys(adapter.events)),
  ]);
}

/** The category of the incidents flood control groups alarm storms into; no rule may raise it. */
export const stormCategory = 'storm';

function checkRules(rules: readonly RuleConfig[], known: ReadonlySet<string>, problems: string[]): void {
  for (const event of findDuplicates(rules.map((rule) => rule.event))) {
    problems.push(`rules: event "${event}" has more than one rule`);
  }
  rules.forEach((rule, index) => {
    if (!known.has(rule.event)) problems.push(`rules[${index}].event: no adapter emits "${rule.event}"`);
    if (rule.clearedBy !== undefined && !known.has(rule.clearedBy)) {
      problems.push(`rules[${index}].clearedBy: no adapter emits "${rule.clearedBy}"`);
    }
    if (rule.category === stormCategory) {
      problems.push(`rules[${index}].category: "${stormCategory}" is kept for alarm storms (see flood)`);
    }
  });
}

/** Correlated events must be emitted by some device and raise incidents: an event without a rule joins nothing. */
function checkCorrelations(
  file: ConfigFile,
  known: ReadonlySet<string>,
  ruled: ReadonlySet<string>,
  problems: string[],
): void {
  for (const id of findDuplicates(file.correlations.map((correlation) => correlation.id))) {
    problems.push(`correlations: id "${id}" is used more than once`);
  }
  file.correlations.forEach((correlation, index) => {
    for (const event of findDuplicates(correlation.events)) {
      problems.push(`correlations[${index}].events: "${event}" is listed more than once`);
    }
    correlation.events.forEach((event, eventIndex) => {
      const at = `correlations[${index}].events[${eventIndex}]`;
      if (!known.has(event)) problems.push(`${at}: no adapter emits "${event}"`);
      else if (!ruled.has(event)) problems.push(`${at}: no rule raises "${event}", so it can join nothing`);
    });
  });
}

function checkSuppressions(
  file: ConfigFile,
  jurisdiction: Jurisdiction,
  known: ReadonlySet<string>,
  ruled: ReadonlySet<string>,
  problems: string[],
): void {
  for (const id of findDuplicates(file.suppressions.map((suppression) => suppression.id))) {
    problems.push(`suppressions: id "${id}" is used more than once`);
  }
  const categories = new Set(file.rules.map((rule) => rule.category));
  file.suppressions.forEach((suppression, index) => {
    const at = `suppressions[${index}]`;
    suppression.events?.forEach((event, eventIndex) => {
      if (!known.has(event)) problems.push(`${at}.events[${eventIndex}]: no adapter emits "${event}"`);
      else if (!ruled.has(event))
        problems.push(
          `${at}.events[${eventIndex}]: no rule raises "${event}", so there is nothing to suppress`,
        );
    });
    suppression.categories?.forEach((category, categoryIndex) => {
      if (!categories.has(category))
        problems.push(`${at}.categories[${categoryIndex}]: no rule has category "${category}"`);
    });
    suppression.grids?.forEach((gridId, gridIndex) => {
      if (jurisdiction.grid(gridId) === undefined)
        problems.push(`${at}.grids[${gridIndex}]: no grid "${gridId}"`);
    });
  });
}
