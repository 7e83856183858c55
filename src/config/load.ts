import { createHash } from 'node:crypto';
import { accessSync, constants, readFileSync } from 'node:fs';
import path from 'node:path';
import { type Document, isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from 'yaml';
import { z } from 'zod';
import { deadlinesWithCatalogue } from '../cases/catalogue.ts';
import { type DeviceAdapter, type DeviceTransport, films, livenessEvents } from '../core/adapter.ts';
import { noMqttSecret, type ResolvedDevice, secretDigest } from '../core/device.ts';
import type { DeadlinesDescription, RoutingDescription } from '../core/dispatch.ts';
import { GridhubError } from '../core/errors.ts';
import { stormCategory } from '../core/incident.ts';
import { formatPath, zodProblems } from '../core/problems.ts';
import type { RosterDescription } from '../core/roster.ts';
import type {
  CorrelationDescription,
  FloodDescription,
  RuleDescription,
  SuppressionDescription,
} from '../core/rule.ts';
import type { UserDescription } from '../core/user.ts';
import { resolveDevice } from '../fleet/device-resolution.ts';
import { Jurisdiction } from '../jurisdiction/jurisdiction.ts';
import { AddressPolicy } from '../net/outbound-address.ts';
import { patrolProblems } from '../patrols/patrol-schema.ts';
import {
  type ConfigFile,
  communitySchema,
  configSchema,
  type DistrictConfig,
  districtSchema,
  gridSchema,
  type HubSettings,
  streetSchema,
} from './schema.ts';
import { resolveSecretReferences, type SecretSources } from './secret-references.ts';
import type { HttpConfig, TlsConfig } from './security-schema.ts';

/** Everything the configuration file says, validated and cross-referenced. */
export interface Deployment {
  readonly settings: HubSettings;
  readonly rosters: readonly RosterDescription[];
  readonly deadlines: DeadlinesDescription;
  readonly routing: RoutingDescription;
  readonly outbound: ConfigFile['outbound'];
  readonly media: ConfigFile['media'];
  readonly cameras: ConfigFile['cameras'];
  readonly store: ConfigFile['store'];
  readonly mqtt: ConfigFile['mqtt'];
  readonly cluster: ConfigFile['cluster'];
  readonly network: ConfigFile['network'];
  readonly adapters: ReadonlyMap<string, DeviceAdapter>;
  readonly jurisdiction: Jurisdiction;
  readonly users: readonly UserDescription[];
  readonly devices: readonly ResolvedDevice[];
  readonly rules: readonly RuleDescription[];
  readonly correlations: readonly CorrelationDescription[];
  readonly suppressions: readonly SuppressionDescription[];
  readonly flood: FloodDescription;
  readonly limits: ConfigFile['limits'];
  /** Listeners for devices that push over protocols other than MQTT. */
  readonly receivers: ConfigFile['receivers'];
  /** TLS on the listeners, its file paths absolute. */
  readonly tls: TlsConfig | undefined;
  readonly http: HttpConfig;
  /** The officer console's map: background tiles and coordinate systems. */
  readonly map: ConfigFile['map'];
  /** Grid workers' positions while on duty (#24). */
  readonly positions: ConfigFile['positions'];
  /** Patrols, zero reports and work logs (#25 point 5). */
  readonly patrols: ConfigFile['patrols'];
  /** Notifications off the hub's pages: channels, policies, delivery bounds, the public address messages link to. */
  readonly notify: ConfigFile['notify'];
  /** Field work: arrival radius, upload limits, whether positions are kept. */
  readonly field: ConfigFile['field'];
  /** The monthly assessment's scoring (千分制). */
  readonly assessment: ConfigFile['assessment'];
  /** Bounds of 延期 and 挂账 (#25). */
  readonly lifecycle: ConfigFile['lifecycle'];
  /** Departments a case may be handed to for coordination (#25). */
  readonly departments: ConfigFile['departments'];
  /** Cases from people (#25): the category catalogue (its deadlines folded into `deadlines`). */
  readonly catalogue: ConfigFile['catalogue'];
  /** The 12345 inbound work-order API. */
  readonly hotline: ConfigFile['hotline'];
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
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { uniqueKeys: true, prettyErrors: false, lineCounter });
  if (document.errors.length > 0) {
    // The document is not what its author meant past a syntax error: its structure is not checked further.
    throw new GridhubError('GRIDHUB_CONFIG_INVALID', `${configPath} is not valid YAML`, {
      problems: document.errors.map((error) => {
        const { line } = lineCounter.linePos(error.pos[0]);
        // Where parsing broke lies just past what is broken (an unclosed quote or bracket); a duplicate key is itself.
        const at = pathAt(
          document,
          error.code === 'DUPLICATE_KEY' ? error.pos[0] : Math.max(0, error.pos[0] - 1),
        );
        const message = error.message.split('\n')[0] ?? error.code;
        return `line ${line}: ${at === '' ? '' : `${at}: `}${message} (${error.code})`;
      }),
    });
  }
  try {
    return resolveDeployment(document.toJS(), adapters, configPath, {
      env: process.env,
      baseDir: path.dirname(configPath),
    });
  } catch (error) {
    if (!(error instanceof GridhubError) || error.code !== 'GRIDHUB_CONFIG_INVALID') throw error;
    throw new GridhubError('GRIDHUB_CONFIG_INVALID', error.message, {
      problems: error.problems.map((problem) => withLine(problem, document, lineCounter)),
    });
  }
}

/** `path: message` with the line of the file the path names (or of its nearest ancestor there) appended. */
function withLine(problem: string, document: Document, lineCounter: LineCounter): string {
  const separator = problem.indexOf(': ');
  if (separator <= 0) return problem;
  const path = problem.slice(0, separator);
  const node = path === '(root)' ? document.contents : nodeAt(document, path);
  const offset = node?.range?.[0];
  return offset === undefined ? problem : `${problem} (line ${lineCounter.linePos(offset).line})`;
}

/**
 * The node a problem's path names (`devices[3].presets.gate-1.north`), or its nearest ancestor in the document. A
 * key may hold dots (device ids do): a segment not found as a key is tried joined with the next.
 */
function nodeAt(document: Document, path: string): Node | undefined {
  const segments = [...path.matchAll(/\[(\d+)\]|([^.[\]]+)/g)].map((match) =>
    match[1] === undefined ? (match[2] as string) : Number(match[1]),
  );
  let node = document.contents as Node | null;
  let found: Node | undefined = node ?? undefined;
  for (let index = 0; index < segments.length && node !== null; index++) {
    const segment = segments[index] as string | number;
    if (typeof segment === 'number') {
      node = isSeq(node) ? ((node.items[segment] as Node | undefined) ?? null) : null;
    } else if (isMap(node)) {
      let key = segment;
      let pair = node.items.find((item) => isScalar(item.key) && String(item.key.value) === key);
      while (pair === undefined && typeof segments[index + 1] === 'string') {
        key = `${key}.${segments[++index] as string}`;
        pair = node.items.find((item) => isScalar(item.key) && String(item.key.value) === key);
      }
      node = (pair?.value as Node | undefined) ?? null;
      // A key's line is where its problem reads best: the line of `grid:` rather than of a block below it.
      if (pair !== undefined && isScalar(pair.key)) found = pair.key as Node;
      continue;
    } else {
      node = null;
    }
    if (node !== null) found = node;
  }
  return found;
}

/** The path of the deepest node whose range holds the offset: where a syntax error lies. */
function pathAt(document: Document, offset: number): string {
  const segments: (string | number)[] = [];
  let node = document.contents as Node | null;
  const holds = (candidate: unknown): candidate is Node => {
    const range = (candidate as Node | null)?.range;
    return range !== undefined && range !== null && offset >= range[0] && offset <= range[2];
  };
  for (;;) {
    if (isMap(node)) {
      const pair = node.items.find((item) => holds(item.key)) ?? node.items.find((item) => holds(item.value));
      if (pair === undefined || !isScalar(pair.key)) break;
      segments.push(String(pair.key.value));
      node = holds(pair.value) ? (pair.value as Node) : null;
    } else if (isSeq(node)) {
      const index = node.items.findIndex(holds);
      if (index < 0) break;
      segments.push(index);
      node = node.items[index] as Node;
    } else break;
  }
  return formatPath(segments);
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
    const problems = [
      ...secrets.problems,
      ...(parsed.success
        ? []
        : zodProblems(parsed.error).filter(
            (problem) => ![...secrets.unresolved].some((at) => problem.startsWith(`${at}:`)),
          )),
    ];
    // The cross-references are checked too, over what is valid, so that one pass shows every problem.
    const salvaged = parsed.success ? undefined : salvage(secrets.config);
    if (salvaged !== undefined) {
      const crossProblems: string[] = [];
      try {
        crossReference(salvaged.file, adapters, crossProblems);
      } catch {
        // What the schema refused is reported either way; the cross-references are a best effort past it.
      }
      problems.push(...salvaged.restate(crossProblems));
    }
    throw new GridhubError('GRIDHUB_CONFIG_INVALID', `${source} is invalid`, { problems });
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

/**
 * The valid part of a configuration the schema refused: each section that is valid, the valid items of a list, the
 * default of an invalid section that has one, and the jurisdiction without its invalid places. `restate` turns the
 * cross-reference problems of that part back into the file's terms: list items at their indices in the file, and
 * none that only repeats that a refused item is missing. Undefined when the jurisdiction itself is unusable.
 */
function salvage(
  raw: unknown,
): { file: ConfigFile; restate: (problems: readonly string[]) => string[] } | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const input = raw as Record<string, unknown>;
  const refusedIds = new Set<string>();
  const refuse = (item: unknown): void => {
    const id = (item as { id?: unknown } | null)?.id;
    if (typeof id === 'string') refusedIds.add(id);
  };
  let placesLeftOut = false;
  const jurisdiction = salvagePlace(input.jurisdiction, 0, (place) => {
    placesLeftOut = true;
    refuse(place);
  }) as DistrictConfig | undefined;
  if (jurisdiction === undefined) return undefined;
  const file: Record<string, unknown> = { jurisdiction };
  const indices = new Map<string, number[]>();
  for (const [key, schema] of Object.entries(configSchema.shape)) {
    if (key === 'jurisdiction') continue;
    const section = schema.safeParse(input[key]);
    if (section.success) {
      file[key] = section.data;
      continue;
    }
    const list = schema instanceof z.ZodDefault ? schema.unwrap() : schema;
    if (list instanceof z.ZodArray && Array.isArray(input[key])) {
      const kept: unknown[] = [];
      const at: number[] = [];
      (input[key] as unknown[]).forEach((item, index) => {
        const parsed = list.element.safeParse(item);
        if (parsed.success) {
          kept.push(parsed.data);
          at.push(index);
        } else refuse(item);
      });
      file[key] = kept;
      indices.set(key, at);
    } else {
      const fallback = schema.safeParse(undefined);
      if (!fallback.success) return undefined;
      file[key] = fallback.data;
    }
  }
  // A place left out leaves a hole in the map: a device placed by location may fall in it.
  const restate = (problems: readonly string[]): string[] =>
    problems
      .filter((problem) => ![...refusedIds].some((id) => problem.includes(`"${id}"`)))
      .filter((problem) => !(placesLeftOut && /^devices\[\d+\]\.location: .* lies in no grid$/.test(problem)))
      .map((problem) =>
        problem.replace(/^([a-z]+)\[(\d+)\]/, (whole, key: string, index: string) => {
          const original = indices.get(key)?.[Number(index)];
          return original === undefined ? whole : `${key}[${original}]`;
        }),
      );
  return { file: file as ConfigFile, restate };
}

const placeSchemas = [districtSchema, streetSchema, communitySchema, gridSchema] as const;

/** A place with its invalid descendants left out (each reported by the schema), or undefined if it is invalid. */
function salvagePlace(place: unknown, depth: number, refuse: (item: unknown) => void): unknown {
  const schema = placeSchemas[depth];
  if (schema === undefined) return undefined;
  const node = place as { children?: unknown } | null;
  const children =
    depth < placeSchemas.length - 1 && Array.isArray(node?.children)
      ? node.children
          .map((child) => salvagePlace(child, depth + 1, refuse))
          .filter((child) => child !== undefined)
      : undefined;
  const parsed = schema.safeParse(children === undefined ? place : { ...node, children });
  if (parsed.success) return parsed.data;
  refuse(place);
  return undefined;
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
  checkDepartments(file, problems);
  const devices = resolveDevices(file, jurisdiction, adapters, problems);
  // Users read the MQTT feed with their id as client id: a device of the same id would lock them out.
  const userIds = new Set(file.users.map((user) => user.id));
  file.devices.forEach((device, index) => {
    if (userIds.has(device.id))
      problems.push(
        `devices[${index}].id: "${device.id}" is a user's id: ids are unique across devices and users`,
      );
  });
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
  problems.push(...patrolProblems(file.patrols, (id) => jurisdiction.grid(id) !== undefined));
  checkCatalogue(file, jurisdiction, problems);
  checkMqtt(file, problems);
  checkOutboundAddresses(file, problems);
  return {
    settings: file.hub,
    adapters,
    jurisdiction,
    users: file.users,
    devices,
    rules: file.rules,
    rosters: file.rosters,
    deadlines: deadlinesWithCatalogue(file.deadlines, file.catalogue),
    routing: file.routing,
    outbound: file.outbound,
    media: file.media,
    cameras: file.cameras,
    store: file.store,
    mqtt: file.mqtt,
    cluster: file.cluster,
    network: file.network,
    correlations: file.correlations,
    suppressions: file.suppressions,
    flood: file.flood,
    limits: file.limits,
    receivers: file.receivers,
    tls: file.tls,
    http: file.http,
    map: file.map,
    positions: file.positions,
    patrols: file.patrols,
    notify: file.notify,
    field: file.field,
    assessment: file.assessment,
    lifecycle: file.lifecycle,
    departments: file.departments,
    catalogue: file.catalogue,
    hotline: file.hotline,
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

/**
 * Camera xaddrs and webhook targets against network.outbound, where their host is an address: a host name is
 * resolved and checked at each connection instead (DNS may answer differently at start and later).
 */
function checkOutboundAddresses(file: ConfigFile, problems: string[]): void {
  const policy = new AddressPolicy(file.network.outbound);
  file.devices.forEach((device, index) => {
    const xaddr = device.onvif?.xaddr;
    const problem = xaddr === undefined ? undefined : policy.urlProblem(xaddr, 'onvif');
    if (problem !== undefined) problems.push(`devices[${index}].onvif.xaddr: ${problem}`);
  });
  file.outbound.webhooks.forEach((webhook, index) => {
    const problem = policy.urlProblem(webhook.url, 'webhook');
    if (problem !== undefined) problems.push(`outbound.webhooks[${index}].url: ${problem}`);
  });
}

/** The modes that span several instances need what they share: Redis, and for external, the broker. */
function checkMqtt(file: ConfigFile, problems: string[]): void {
  const { mode } = file.mqtt;
  if (mode !== 'embedded' && file.store.kind !== 'redis') {
    problems.push(
      `mqtt.mode: ${mode} spreads devices over several instances, which must share incidents: it needs store.kind redis`,
    );
  }
  const { packetBytes } = file.limits.mqtt;
  if (packetBytes !== undefined && packetBytes <= file.hub.maxPayloadBytes) {
    problems.push(
      `limits.mqtt.packetBytes: ${packetBytes} would close a device's connection for a payload hub.maxPayloadBytes (${file.hub.maxPayloadBytes}) accepts: make it larger`,
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
    // A grid's roster names its workers; a centre's (a community, street or district) its duty officers.
    const isGrid = jurisdiction.grid(roster.grid) !== undefined;
    if (!isGrid && jurisdiction.node(roster.grid) === undefined)
      problems.push(`rosters[${index}].grid: no grid or centre "${roster.grid}"`);
    const member = isGrid
      ? (user: UserDescription | undefined) =>
          user?.role === 'grid_worker' && user.grids?.includes(roster.grid) === true
      : (user: UserDescription | undefined) => user?.role === 'duty_officer' && user.scope === roster.grid;
    roster.shifts.forEach((shift, shiftIndex) => {
      shift.users.forEach((userId, userIndex) => {
        if (!member(workers.get(userId))) {
          problems.push(
            `rosters[${index}].shifts[${shiftIndex}].users[${userIndex}]: "${userId}" is not a ${isGrid ? 'grid worker' : 'duty officer'} of ${roster.grid}`,
          );
        }
      });
    });
  });
}

function checkUsers(users: readonly UserDescription[], jurisdiction: Jurisdiction, problems: string[]): void {
  for (const id of findDuplicates(users.map((user) => user.id)))
    problems.push(`users: id "${id}" is used more than once`);
  const digests = users.flatMap((user) =>
    user.token !== undefined
      ? [createHash('sha256').update(user.token).digest('hex')]
      : user.tokenDigest !== undefined
        ? [user.tokenDigest]
        : [],
  );
  if (findDuplicates(digests).size > 0) problems.push('users: two users share a token');
  users.forEach((user, index) => {
    const at = `users[${index}]`;
    if (user.token !== undefined && user.tokenDigest !== undefined)
      problems.push(`${at}.tokenDigest: give the token or its digest, not both`);
    if (user.passwordHash !== undefined && user.initialPassword !== undefined)
      problems.push(`${at}.initialPassword: give a passwordHash or an initial password, not both`);
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

type DeviceConfig = ConfigFile['devices'][number];

function hasSecret(device: DeviceConfig): boolean {
  return device.secret !== undefined || device.secretSha256 !== undefined;
}

function ownSecretOrHttp(device: DeviceConfig, _file: ConfigFile, at: string): string | undefined {
  return (device.secret !== undefined && device.secretSha256 !== undefined) ||
    (!hasSecret(device) && device.http === undefined)
    ? `${at}: give exactly one of secret and secretSha256 (a device the hub only calls may give http instead): every device has its own credentials`
    : undefined;
}

/**
 * What each way a device reaches the hub asks of its credentials: every device has its own. An MQTT device gives
 * its secret (or only `http`, when the hub only calls it); a camera its ONVIF login; an alarm panel its account
 * and key (`sia`, checked with its adapter); an ADMS terminal, which carries no credential, its serial number.
 */
const credentialProblemOf: Record<
  DeviceTransport,
  (device: DeviceConfig, file: ConfigFile, at: string) => string | undefined
> = {
  mqtt: ownSecretOrHttp,
  // A Hikvision device the hub follows gives its http login; one that pushes, its own secret too (Basic).
  'hikvision-isapi': ownSecretOrHttp,
  // A Dahua device is one the hub calls: its http login (required where it is resolved).
  'dahua-cgi': ownSecretOrHttp,
  onvif: (device, _file, at) =>
    device.onvif === undefined
      ? `${at}.onvif: an ONVIF camera needs its xaddr, username and password`
      : hasSecret(device)
        ? `${at}: an ONVIF camera has no MQTT secret; give its onvif credentials`
        : undefined,
  'sia-dc09': (device, _file, at) =>
    hasSecret(device)
      ? `${at}: an alarm panel reporting over SIA DC-09 has no MQTT secret; give its sia account`
      : undefined,
  'zkteco-adms': (device, file, at) => admsProblem(device, file, at),
  gb28181: (device, _file, at) =>
    hasSecret(device)
      ? `${at}: a GB/T 28181 device has no MQTT secret; give its gb28181 id and password (or its parent)`
      : undefined,
};

function resolveDevices(
  file: ConfigFile,
  jurisdiction: Jurisdiction,
  adapters: ReadonlyMap<string, DeviceAdapter>,
  problems: string[],
): ResolvedDevice[] {
  for (const id of findDuplicates(file.devices.map((device) => device.id))) {
    problems.push(`devices: id "${id}" is used more than once`);
  }
  const accounts = file.devices.flatMap((device) => (device.sia === undefined ? [] : [device.sia.account]));
  for (const account of findDuplicates(accounts)) {
    problems.push(`devices: SIA account "${account}" is used by more than one panel`);
  }
  const codes = file.devices.flatMap((device) => (device.gb28181 === undefined ? [] : [device.gb28181.id]));
  for (const code of findDuplicates(codes)) {
    problems.push(`devices: national code ${code} is given to more than one device`);
  }
  const serials = file.devices.flatMap((device) => (device.serial === undefined ? [] : [device.serial]));
  for (const serial of findDuplicates(serials)) {
    problems.push(`devices: serial "${serial}" is given to more than one device`);
  }
  const resolved: ResolvedDevice[] = [];
  file.devices.forEach((device, index) => {
    const at = `devices[${index}]`;
    const transport = adapters.get(device.adapter)?.transport ?? 'mqtt';
    const credentialProblem =
      credentialProblemOf[transport](device, file, at) ??
      (device.onvif !== undefined && transport !== 'onvif'
        ? `${at}: onvif is for ONVIF cameras only`
        : device.presets !== undefined && transport !== 'onvif'
          ? `${at}: presets are for ONVIF cameras only`
          : device.watches !== undefined && !films(adapters.get(device.adapter), device)
            ? `${at}: watches are for cameras only (ONVIF, an adapter with httpMedia, or gb28181.rtsp)`
            : undefined);
    if (credentialProblem !== undefined) {
      problems.push(credentialProblem);
      return;
    }
    if (device.pushFrom !== undefined && transport !== 'zkteco-adms') {
      problems.push(
        `${at}.pushFrom: only devices that push over HTTP without a credential (zkteco-adms) read it`,
      );
      return;
    }
    // A camera, an alarm panel, or a device the hub only calls has no MQTT secret to present: no password matches it.
    const digest =
      transport === 'onvif' || transport === 'sia-dc09' || transport === 'gb28181' || !hasSecret(device)
        ? noMqttSecret
        : (device.secretSha256 ?? secretDigest(device.secret as string));
    const result = resolveDevice(device, digest, jurisdiction, adapters, at);
    if ('problems' in result) problems.push(...result.problems);
    else resolved.push(result.device);
  });
  problems.push(...gbParentProblems(resolved));
  return resolved;
}

/** A GB/T 28181 channel's parent is a device of the hub that registers over GB/T 28181, not a channel itself. */
export function gbParentProblems(devices: readonly ResolvedDevice[]): string[] {
  const byId = new Map(devices.map((device) => [device.id, device]));
  return devices.flatMap((device) => {
    const parentId = device.gb28181?.parent;
    if (parentId === undefined) return [];
    const parent = byId.get(parentId);
    const registers = parent?.adapter.transport === 'gb28181' && parent.gb28181?.password !== undefined;
    return registers
      ? []
      : [
          `devices.${device.id}.gb28181.parent: "${parentId}" is no GB/T 28181 device that registers to the hub`,
        ];
  });
}

/**
 * A ZKTeco ADMS terminal has no credential on its wire: its serial number names it, it has no secret to present,
 * and it can report only when the device HTTP listener is on.
 */
function admsProblem(
  device: ConfigFile['devices'][number],
  file: ConfigFile,
  at: string,
): string | undefined {
  if (device.serial === undefined)
    return `${at}.serial: an ADMS terminal is known by its serial number (SN): give it`;
  if (device.secret !== undefined || device.secretSha256 !== undefined || device.onvif !== undefined)
    return `${at}: an ADMS terminal has no secret or onvif credentials (ADMS carries none); give its serial`;
  if (file.receivers.http === undefined)
    return `${at}: an ADMS terminal pushes to the device HTTP listener: turn on receivers.http`;
  return undefined;
}

/** Every event type some adapter emits, and the hub's own liveness events. */
function knownEvents(adapters: ReadonlyMap<string, DeviceAdapter>): ReadonlySet<string> {
  return new Set([
    ...Object.keys(livenessEvents),
    ...[...adapters.values()].flatMap((adapter) => Object.keys(adapter.events)),
  ]);
}

function checkRules(rules: readonly RuleDescription[], known: ReadonlySet<string>, problems: string[]): void {
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

/** Each department's users are users of the role `department`, who see only the cases handed to them (#25). */
function checkDepartments(file: ConfigFile, problems: string[]): void {
  const roleOf = new Map(file.users.map((user) => [user.id, user.role]));
  file.departments.forEach((department, index) => {
    department.userIds.forEach((userId, userIndex) => {
      const role = roleOf.get(userId);
      if (role !== 'department')
        problems.push(
          `departments[${index}].userIds[${userIndex}]: "${userId}" is ${role === undefined ? 'no user' : `a ${role}, not a department user (role: department)`}`,
        );
    });
  });
}

/** The catalogue's ids are unique, its departments' users exist; the 12345 platforms' grids and officers exist. */
function checkCatalogue(file: ConfigFile, jurisdiction: Jurisdiction, problems: string[]): void {
  const userIds = new Set(file.users.map((user) => user.id));
  const seen = new Set<string>();
  for (const category of file.catalogue.categories) {
    if (seen.has(category.id)) problems.push(`catalogue: category "${category.id}" appears twice`);
    seen.add(category.id);
    const subs = new Set<string>();
    for (const sub of category.subcategories) {
      if (subs.has(sub.id)) problems.push(`catalogue: ${category.id}/${sub.id} appears twice`);
      subs.add(sub.id);
    }
    for (const department of [category.department, ...category.subcategories.map((sub) => sub.department)])
      for (const userId of department?.users ?? [])
        if (!userIds.has(userId))
          problems.push(`catalogue: ${category.id}: no user "${userId}" in its department`);
  }
  for (const platform of file.hotline.platforms) {
    if (jurisdiction.grid(platform.intakeGrid) === undefined)
      problems.push(`hotline.platforms: ${platform.appKey}: no grid "${platform.intakeGrid}"`);
    if (!userIds.has(platform.registeredBy))
      problems.push(`hotline.platforms: ${platform.appKey}: no user "${platform.registeredBy}"`);
  }
}
