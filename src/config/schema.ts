import { z } from 'zod';
import { assessmentSchema } from '../assessment/scoring-schema.ts';
import type { GuessLimits, GuessWindow } from '../auth/guess-limiter.ts';
import { passwordBounds, passwordHashPattern } from '../auth/passwords.ts';
import { catalogueSchema } from '../cases/catalogue.ts';
import { hotlineSchema } from '../cases/hotline-schema.ts';
import type { DeviceDescription } from '../core/device.ts';
import type {
  DeadlinesDescription,
  RoutingDescription,
  StageDeadlinesDescription,
} from '../core/dispatch.ts';
import { severities } from '../core/incident.ts';
import type {
  CommunityDescription,
  DistrictDescription,
  GridDescription,
  PolygonDescription,
  StreetDescription,
} from '../core/jurisdiction.ts';
import { roles } from '../core/principal.ts';
import { identifierModes } from '../core/privacy.ts';
import type { RosterDescription, ShiftDescription } from '../core/roster.ts';
import type {
  CorrelationDescription,
  FloodDescription,
  RuleDescription,
  SuppressionDescription,
} from '../core/rule.ts';
import { clockTimeSchema, nodeIdSchema, positionSchema } from '../core/schema-parts.ts';
import type { UserDescription } from '../core/user.ts';
import { fieldSchema } from '../field/field-schema.ts';
import { deviceSchema } from '../fleet/device-schema.ts';
import type { EdgeSettings } from '../http/edge.ts';
import { departmentsSchema, lifecycleSchema } from '../incidents/lifecycle-schema.ts';
import { rosterSchema, shiftSchema } from '../incidents/roster-schema.ts';
import type { SiaDc09Settings } from '../ingest/sia-dc09/sia-receiver.ts';
import { checkAllowEntry } from '../net/outbound-address.ts';
import { notifySchema } from '../notify/notify-schema.ts';
import { outboundSchema } from '../outbound/outbound-schema.ts';
import { patrolsSchema } from '../patrols/patrol-schema.ts';
import { positionsSchema } from '../positions/position-schema.ts';
import { type HttpConfig, httpSchema, tlsSchema } from './security-schema.ts';

/**
 * The configuration file's schema. Every object is strict (unknown keys are errors, as in Frigate), and every
 * field says what it is for: the descriptions are the reference documentation of the file.
 * Cross-references (a device's grid, a user's scope) are checked after parsing, in load.ts.
 */

/** The identifier key when none is set: in the repository, so only for the demo (see demo-guard.ts). */
export const defaultIdentifierHashKey = 'gridhub-demo-identifier-key';

// The REST API describes devices and shifts as the file does, so their schemas live beside their domain.
export { deviceSchema, rosterSchema, shiftSchema };

const linearRing = z
  .array(positionSchema)
  .min(4, 'a linear ring needs at least 4 positions')
  .refine((ring) => {
    const first = ring[0];
    const last = ring[ring.length - 1];
    return first !== undefined && last !== undefined && first[0] === last[0] && first[1] === last[1];
  }, 'a linear ring must be closed: its last position equals its first');

export const polygonSchema = z.strictObject({
  type: z.literal('Polygon'),
  coordinates: z.array(linearRing).min(1, 'a polygon needs an outer ring'),
});

const placeFields = {
  id: nodeIdSchema.describe('Unique id of this place across the whole jurisdiction.'),
  name: z.string().min(1).describe('Display name, e.g. "西郊第1网格 Xijiao Grid 1".'),
};

export const gridSchema = z.strictObject({
  ...placeFields,
  level: z.literal('grid'),
  boundary: polygonSchema.describe(
    'GeoJSON Polygon of the grid; devices given by location are placed by it.',
  ),
});
export const communitySchema = z.strictObject({
  ...placeFields,
  level: z.literal('community'),
  children: z.array(gridSchema).min(1),
});
export const streetSchema = z.strictObject({
  ...placeFields,
  level: z.literal('street'),
  children: z.array(communitySchema).min(1),
});
export const districtSchema = z.strictObject({
  ...placeFields,
  level: z.literal('district'),
  children: z.array(streetSchema).min(1),
});

export const userSchema = z.strictObject({
  id: nodeIdSchema,
  name: z.string().min(1),
  role: z.enum(roles),
  scope: nodeIdSchema
    .optional()
    .describe('For duty officers, integrators and admins: the node they see, with all below.'),
  grids: z
    .array(nodeIdSchema)
    .min(1)
    .optional()
    .describe('For grid workers and grid chiefs: the grids they work in.'),
  token: z
    .string()
    .min(8, 'tokens must be at least 8 characters')
    .optional()
    .describe(
      'API token, for machines: a bearer for REST, the Socket.IO handshake and MQTT. Held only as its SHA-256 digest; prefer tokenDigest, which keeps the token out of this file.',
    ),
  tokenDigest: z
    .string()
    .regex(/^[0-9a-f]{64}$/, 'must be the SHA-256 of the token, 64 lowercase hex digits')
    .optional()
    .describe('The SHA-256 (hex) of the API token, instead of the token: `printf %s "$TOKEN" | sha256sum`.'),
  passwordHash: z
    .string()
    .regex(passwordHashPattern, 'must be scrypt$N$r$p$salt$key (see docs/accounts.md)')
    .optional()
    .describe(
      'The password the account is created with, as an scrypt hash: scrypt$N$r$p$<salt>$<key> (base64url; `npm run users -- hash` makes one). Used when the account is first made; later changes through the API or CLI stand.',
    ),
  initialPassword: z
    .string()
    .min(passwordBounds.min)
    .max(passwordBounds.max)
    .optional()
    .describe(
      'The password the account is created with, instead of passwordHash: hashed at first start, never stored as given. Give it as {env: NAME} or {file: path}, never in the file itself.',
    ),
  contact: z
    .strictObject({
      phone: z
        .string()
        .regex(/^\+?[0-9]{6,15}$/, 'digits, with a leading + for E.164, e.g. +8613800138000')
        .optional()
        .describe('For SMS and voice calls, and for @mentions by group robots.'),
      wecomUserId: z.string().min(1).max(64).optional().describe('Their UserID in WeCom (企业微信).'),
      dingtalkUserId: z.string().min(1).max(64).optional().describe('Their user id in DingTalk.'),
    })
    .optional()
    .describe(
      "How notifications reach them off the hub's pages. Personal data: never logged, masked in audit entries.",
    ),
});

export const ruleSchema = z.strictObject({
  event: z.string().min(1).describe('Normalized event type, e.g. door.forced_open.'),
  category: z.string().regex(/^[a-z][a-z0-9_]*$/),
  severity: z.enum(severities),
  title: z.string().min(1),
  dedupeSeconds: z
    .number()
    .min(0)
    .max(24 * 3600)
    .default(0)
    .describe(
      'The same device raising the same event within this window adds to the open incident instead of a new one.',
    ),
  clearedBy: z
    .string()
    .min(1)
    .optional()
    .describe(
      'An event of the same device that resolves the open incident by itself (device.online clears device.offline).',
    ),
});

const eventType = z.string().min(1).describe('Normalized event type, e.g. door.forced_open.');

export const correlationSchema = z.strictObject({
  id: nodeIdSchema.describe('Names the correlation in audit entries and logs.'),
  events: z
    .array(eventType)
    .min(2, 'a correlation joins at least two event types')
    .describe(
      'Event types (each with a rule) that join one incident when different devices of a grid raise them.',
    ),
  windowSeconds: z
    .number()
    .positive()
    .max(24 * 3600)
    .describe(
      "How long after an incident was created, or last joined, another device's event still joins it.",
    ),
  severity: z
    .enum(severities)
    .describe('The joined incident is raised to at least this severity (never lowered).'),
  title: z.string().min(1).optional().describe('Replaces the title of an incident once an event joins it.'),
});

export const suppressionSchema = z.strictObject({
  id: nodeIdSchema.describe('Names the schedule in logs.'),
  events: z.array(eventType).min(1).optional().describe('Only these event types; every type when left out.'),
  categories: z
    .array(z.string().min(1))
    .min(1)
    .optional()
    .describe('Only events whose rule has one of these categories; every category when left out.'),
  grids: z
    .array(nodeIdSchema)
    .min(1)
    .optional()
    .describe('Only devices in these grids; every grid when left out.'),
  days: z
    .array(z.number().int().min(1).max(7))
    .min(1)
    .optional()
    .describe('ISO weekdays (1 = Monday … 7 = Sunday) the window starts on; every day when left out.'),
  from: clockTimeSchema.describe('Start, local time of hub.timezone.'),
  to: clockTimeSchema.describe(
    'End, local time; earlier than from for a window across midnight; equal to from for all day.',
  ),
});

export const floodSchema = z.strictObject({
  maxIncidents: z
    .number()
    .int()
    .min(0)
    .max(10_000)
    .default(20)
    .describe(
      "Incidents one grid may create within the window; events past that join the grid's storm incident. 0: no limit.",
    ),
  windowSeconds: z
    .number()
    .positive()
    .max(24 * 3600)
    .default(60)
    .describe('The sliding window the limit counts over.'),
});

const minutes = z
  .number()
  .positive()
  .max(7 * 24 * 60);
export const stageDeadlinesSchema = z.strictObject({
  acceptMinutes: minutes.describe('From dispatch (or escalation) to acceptance.'),
  arriveMinutes: minutes.describe('From acceptance to arrival on site.'),
  resolveMinutes: minutes.describe('From creation to resolution.'),
});

export const deadlinesSchema = z.strictObject({
  default: stageDeadlinesSchema.default({ acceptMinutes: 10, arriveMinutes: 30, resolveMinutes: 240 }),
  categories: z
    .record(z.string(), stageDeadlinesSchema)
    .default({})
    .describe(
      'Per-category deadlines, e.g. emergency: {acceptMinutes: 2, arriveMinutes: 10, resolveMinutes: 60}.',
    ),
});

export const routingSchema = z.strictObject({
  emergencyCategories: z
    .array(z.string())
    .default(['emergency'])
    .describe('Sent to the grid worker and to the community and street centres at once.'),
  deviceHealthCategories: z
    .array(z.string())
    .default(['device_offline', 'device_tamper', 'power'])
    .describe('Sent to the integrators who maintain the area, not to the grid worker.'),
});

export const mediaSchema = z.strictObject({
  directory: z
    .string()
    .refine((value) => value.startsWith('/'), 'must be an absolute path')
    .optional()
    .describe(
      'Where evidence files live; DATA_DIR/media by default. Hub instances sharing a Redis store must share it too (a network file system), so each serves the evidence the others captured.',
    ),
  clipSeconds: z
    .number()
    .int()
    .min(1)
    .max(120)
    .default(10)
    .describe('Length of the clip recorded for an incident.'),
  preAlarmSeconds: z
    .number()
    .int()
    .min(0)
    .max(60)
    .default(0)
    .describe(
      "Seconds of video before the alarm in each clip, from a rolling buffer of every camera's stream (one ffmpeg copying it into short segments, per camera, while the hub runs); 0 (the default): none, the clip starts when it is taken.",
    ),
  retention: z
    .strictObject({
      maxBytes: z
        .number()
        .int()
        .min(1_048_576)
        .default(20 * 1024 ** 3)
        .describe('Media kept at most; oldest go first.'),
      maxAgeDays: z.number().positive().max(3650).default(30),
    })
    .default({ maxBytes: 20 * 1024 ** 3, maxAgeDays: 30 }),
  rtspTransport: z
    .enum(['tcp', 'udp'])
    .default('tcp')
    .describe('How ffmpeg reads camera streams; TCP passes most networks, some cameras only do UDP.'),
});

export const camerasSchema = z.strictObject({
  notifyUrl: z
    .url({ protocol: /^https?$/ })
    .optional()
    .describe(
      "The URL cameras reach the hub at, e.g. http://10.0.0.5:8080: a camera that offers only Basic Notification (no PullPoint) is subscribed with a consumer address under it (<notifyUrl>/onvif/notify/<token>) and posts its events there. Set it when the hub is behind NAT or a proxy, or listens on every interface; by default it is the HTTP listener's own address (its first non-loopback IPv4 address when it listens on every interface).",
    ),
  notifyMaxBytes: z
    .number()
    .int()
    .min(4096)
    .max(4 * 1024 * 1024)
    .default(256 * 1024)
    .describe('The most a Notify a camera posts may take; a larger one is refused and counted (oversized).'),
});

export const storeSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('embedded').describe('LMDB under DATA_DIR: one hub, no server needed.'),
    commitWindowMs: z
      .number()
      .int()
      .min(0)
      .max(50)
      .default(5)
      .describe(
        'Group commit: the store starts a transaction at most once per this many ms; writes that come sooner wait for the window to close and commit together, one transaction for many device events. A quiet hub waits for nothing; under load each acknowledgement (and the outbound feed and webhooks) waits up to this long, the live pushes never. Saves CPU under load (a transaction costs far more than a write). 0: every event-loop turn commits its writes at once.',
      ),
  }),
  z.strictObject({
    kind: z.literal('redis').describe('Redis, shared by several hub instances.'),
    url: z
      .url({ protocol: /^rediss?$/ })
      .describe('e.g. redis://127.0.0.1:6379; rediss:// for TLS. With a password, give it as {env: NAME}.'),
    ca: z
      .string()
      .min(1)
      .optional()
      .describe("rediss://: CA certificates (PEM file) that sign the Redis server's, when not a public CA."),
    keyPrefix: z
      .string()
      .regex(/^[\w:.-]{1,64}$/)
      .default('gridhub:')
      .describe('Start of every key of this deployment.'),
  }),
]);

export const clusterSchema = z.strictObject({
  instanceId: z
    .string()
    .regex(/^[\w.-]{1,64}$/)
    .optional()
    .describe('This instance among its siblings (leases, logs). Default: host name and process id.'),
  leaseSeconds: z
    .number()
    .min(2)
    .max(300)
    .default(15)
    .describe(
      'How long a camera lease lasts without renewal: when an instance dies, its cameras move to the others within about this long plus a third of it.',
    ),
});

const mqttClientId = z
  .string()
  .regex(/^[A-Za-z0-9._:-]{1,64}$/, 'must be 1 to 64 letters, digits, ".", "_", ":" or "-"');

export const externalBrokerSchema = z.strictObject({
  url: z
    .url({ protocol: /^(mqtts?|wss?)$/ })
    .describe('The external broker, e.g. mqtt://10.0.0.7:1883 (Mosquitto, EMQX); mqtts:// for TLS.'),
  username: z.string().min(1).describe("The hub's own account on the broker (not a device's)."),
  password: z.string().min(1).describe("The hub account's password."),
  ca: z
    .string()
    .min(1)
    .optional()
    .describe("mqtts:// or wss://: CA certificates (PEM file) that sign the broker's, when not a public CA."),
  shareGroup: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be letters, digits, "_" or "-" (no "/", "+" or "#")')
    .default('gridhub')
    .describe(
      'Shared-subscription group ($share/<group>/...): the instances of one deployment share one group, so each device event goes to exactly one of them.',
    ),
  clientId: mqttClientId
    .optional()
    .describe(
      "This instance's MQTT client id: stable across restarts and different for every instance, since the broker keeps each instance's session (its unacknowledged and queued events) under it. MQTT_CLIENT_ID overrides it.",
    ),
  protocolVersion: z
    .union([z.literal(5), z.literal(4)])
    .default(5)
    .describe('MQTT 5 (session expiry) or 4 (MQTT 3.1.1, the session lasts until the broker drops it).'),
  sessionExpirySeconds: z
    .number()
    .int()
    .min(60)
    .max(4_294_967_294)
    .default(7 * 24 * 3600)
    .describe(
      "How long the broker keeps an instance's session (and the events queued for it) while it is away. Longer than any outage you expect: an expired session's queued events are lost.",
    ),
});

export const mqttSchema = z.strictObject({
  mode: z
    .enum(['embedded', 'external', 'clustered'])
    .default('embedded')
    .describe(
      'embedded: each hub runs its own broker (aedes). external: the hub is a client of a broker such as Mosquitto or EMQX, which authenticates the devices. clustered: every hub runs aedes and they share sessions, retained messages and routing through the Redis of the store.',
    ),
  external: externalBrokerSchema.optional().describe('The external broker; required when mode is external.'),
  brokerThread: z
    .enum(['auto', 'always', 'never'])
    .default('auto')
    .describe(
      "embedded mode: where the broker runs. always: a thread of its own (the devices' connections and MQTT parsing off the hub's event loop, which pays with two or more cores). never: the hub's thread (no hand-off between threads: cheaper on one core). auto: a thread of its own when the process may run on more than one CPU (its CPU affinity: os.availableParallelism()); a container held to one CPU by a quota alone, set never.",
    ),
  clustered: z
    .strictObject({
      brokerHeartbeatSeconds: z
        .number()
        .int()
        .min(1)
        .max(300)
        .default(10)
        .describe(
          "How often each instance tells the others it is alive; the last wills of a dead instance's devices are published by another after 3 to 7 of these.",
        ),
    })
    .default({ brokerHeartbeatSeconds: 10 })
    .describe('Settings of the clustered mode.'),
});

/** An allow-list entry: a CIDR, one address, or the words `private` and `public`. */
const allowEntry = z.string().superRefine((entry, context) => {
  try {
    checkAllowEntry(entry);
  } catch (error) {
    context.addIssue({ code: 'custom', message: (error as Error).message });
  }
});

export const outboundNetworksSchema = z.strictObject({
  cameras: z
    .array(allowEntry)
    .default(['private'])
    .describe(
      'Networks the hub may reach cameras and other devices at: their ONVIF xaddr, the stream and snapshot URIs they hand out, and the HTTP APIs of devices it calls (http.url). CIDRs (10.20.0.0/16), single addresses, `private` (10/8, 172.16/12, 192.168/16, fc00::/7) or `public` (any other unicast address except 100.64/10).',
    ),
  webhooks: z
    .array(allowEntry)
    .default(['private', 'public'])
    .describe('Networks webhook targets may be in; the same entries as cameras.'),
});

export const networkSchema = z.strictObject({
  outbound: outboundNetworksSchema
    .default(outboundNetworksSchema.parse({}))
    .describe(
      "Where the hub may connect on a caller's behalf. Loopback, unspecified, link-local, multicast, reserved and cloud metadata addresses (169.254.169.254, 100.100.100.200, fd00:ec2::254…) are refused unless an entry names a network inside them, e.g. 127.0.0.0/8; a wide entry (0.0.0.0/0) never lets them through. Host names are resolved and every address checked, at each connection.",
    ),
});

const guessWindowSchema = z.strictObject({
  maxFailures: z
    .number()
    .int()
    .min(1)
    .max(100_000)
    .describe('Failed authentications within the window that start a lockout.'),
  windowSeconds: z
    .number()
    .positive()
    .max(24 * 3600)
    .describe('The window the failures count over (fixed, starting at the first failure).'),
  lockoutSeconds: z
    .number()
    .positive()
    .max(24 * 3600)
    .describe('How long every authentication from it is refused once locked out, good credentials included.'),
});

/** The listener devices push to over HTTP (ingest/device-http-listener.ts): its own port, sized for devices. */
export const deviceHttpReceiverSchema = z.strictObject({
  port: z
    .number()
    .int()
    .min(0)
    .max(65535)
    .describe(
      'Port devices push to over HTTP (Hikvision alarm host, ZKTeco ADMS, ONVIF notifications); 0 picks a free one. Bound on the same address as the hub.',
    ),
  maxBodyBytes: z
    .number()
    .int()
    .min(1024)
    .max(64 * 1_048_576)
    .default(4 * 1_048_576)
    .describe(
      'Largest request body a device may push (an alarm with its pictures); a larger one is refused with 413.',
    ),
  maxHeaderBytes: z
    .number()
    .int()
    .min(1024)
    .max(65_536)
    .default(16_384)
    .describe('Largest request head (request line and headers); a larger one is refused with 431.'),
  requestTimeoutSeconds: z
    .number()
    .positive()
    .max(300)
    .default(30)
    .describe('A request that has not arrived whole within this long is closed (a stalled or slow device).'),
  maxConnections: z
    .number()
    .int()
    .min(1)
    .max(100_000)
    .default(512)
    .describe('Connections open at once; more are refused.'),
});

/** The SIA DC-09 receiver for alarm panels (ANSI/SIA DC-09, TCP and UDP on one port). */
const siaDc09Schema = z.strictObject({
  port: z
    .number()
    .int()
    .min(0)
    .max(65535)
    .describe('TCP and UDP port the receiver binds (0 picks a free one). Panels are set to send here.'),
  host: z
    .string()
    .min(1)
    .optional()
    .describe("Address to bind; the hub's own (HOST, 127.0.0.1 by default) when absent."),
  udp: z.boolean().default(true).describe('Also receive over UDP on the same port.'),
  timestampWindow: z
    .strictObject({
      aheadSeconds: z.number().int().min(1).max(3600).default(20),
      behindSeconds: z.number().int().min(1).max(3600).default(40),
    })
    .default({ aheadSeconds: 20, behindSeconds: 40 })
    .describe(
      "How far a message's timestamp may lie ahead of the receiver's clock and behind it (the standard: +20 s, -40 s); outside it the message is refused as stale and answered NAK with the receiver's time.",
    ),
  maxFrameBytes: z
    .number()
    .int()
    .min(64)
    .max(4105)
    .default(1024)
    .describe('The longest message, LF to CR; a longer one ends its TCP connection.'),
  maxConnections: z.number().int().min(1).max(100_000).default(256).describe('TCP connections at once.'),
  idleSeconds: z
    .number()
    .int()
    .min(1)
    .max(3600)
    .default(120)
    .describe('A TCP connection silent this long is closed (a panel reconnects for its next message).'),
  perSource: z
    .strictObject({
      messagesPerSecond: z.number().positive().max(10_000).default(20),
      burst: z.number().int().min(1).max(100_000).default(50),
    })
    .default({ messagesPerSecond: 20, burst: 50 })
    .describe('Messages one address may send; past it they are dropped unanswered (and counted).'),
});

/** The GB/T 28181 SIP server that NVRs and cameras register to (UDP and TCP on one port). */
const gb28181ReceiverSchema = z.strictObject({
  port: z
    .number()
    .int()
    .min(0)
    .max(65535)
    .describe(
      'UDP and TCP port of the SIP server (5060 is usual; 0 picks a free one). Devices are set to register here.',
    ),
  host: z
    .string()
    .min(1)
    .optional()
    .describe("Address to bind; the hub's own (HOST, 127.0.0.1 by default) when absent."),
  udp: z.boolean().default(true).describe('Take SIP over UDP (most devices).'),
  tcp: z.boolean().default(true).describe('Take SIP over TCP on the same port.'),
  serverId: z
    .string()
    .regex(/^\d{20}$/, 'a SIP server id (SIP服务器ID) is a 20-digit national code')
    .describe('The SIP server id devices are given (SIP服务器ID), e.g. 34020000002000000001.'),
  domain: z
    .string()
    .regex(/^\d{10}$/, 'a SIP domain (SIP服务器域) is 10 digits')
    .describe(
      'The SIP domain devices are given (SIP服务器域), e.g. 3402000000: the realm of the digest challenge.',
    ),
  registration: z
    .strictObject({
      minExpiresSeconds: z.number().int().min(30).max(3600).default(60),
      maxExpiresSeconds: z
        .number()
        .int()
        .min(60)
        .max(7 * 24 * 3600)
        .default(86_400),
      perMinute: z.number().positive().max(6000).default(30),
      burst: z.number().int().min(1).max(10_000).default(10),
    })
    .default({ minExpiresSeconds: 60, maxExpiresSeconds: 86_400, perMinute: 30, burst: 10 })
    .describe(
      'Registration: the expiry a device may ask (shorter is answered 423 with Min-Expires, longer is cut), and the REGISTERs one address may send (per minute, burst): past it they are answered 503 and counted.',
    ),
  messagesPerSecond: z
    .number()
    .positive()
    .max(10_000)
    .default(50)
    .describe(
      'Other requests one address may send per second (burst: five seconds of it); past it, dropped and counted.',
    ),
  maxMessageBytes: z
    .number()
    .int()
    .min(1024)
    .max(1024 * 1024)
    .default(64 * 1024)
    .describe('The largest SIP message; a larger one is refused (UDP) or ends its connection (TCP).'),
  maxConnections: z.number().int().min(1).max(100_000).default(1024).describe('TCP connections at once.'),
  idleSeconds: z
    .number()
    .int()
    .min(10)
    .max(3600)
    .default(300)
    .describe('A TCP connection silent this long is closed (devices keep theirs open with keepalives).'),
  queryTimeoutSeconds: z
    .number()
    .int()
    .min(1)
    .max(120)
    .default(10)
    .describe(
      "How long the hub waits for a device's answer to a query or command (a catalog's last page included).",
    ),
  catalogRefreshSeconds: z
    .number()
    .int()
    .min(60)
    .max(7 * 24 * 3600)
    .default(3600)
    .describe(
      'How often the hub asks a registered device for its catalog again (and at each new registration).',
    ),
  adoptChannels: z
    .boolean()
    .default(true)
    .describe(
      "Channels a catalog lists that no device names (cameras, alarm inputs) become devices of their own (id gb-<code>): in the grid their longitude/latitude lies in, else their parent's.",
    ),
  maxChannels: z
    .number()
    .int()
    .min(1)
    .max(100_000)
    .default(1024)
    .describe(
      "The most channels one device's catalog is read for (and adopted); past it the rest are ignored and logged.",
    ),
  subscribeAlarms: z
    .boolean()
    .default(true)
    .describe(
      "SUBSCRIBE to each registered device's alarms (most send them as MESSAGE without one; some need it).",
    ),
  charset: z
    .enum(['GB2312', 'UTF-8'])
    .default('GB2312')
    .describe('The charset of what the hub sends devices (they send either; both are read).'),
  publicHost: z
    .string()
    .min(1)
    .max(253)
    .optional()
    .describe(
      "The address devices reach the hub at, for the snapshot upload URL the hub gives them (GB/T 28181-2022); the SIP server's bound address when absent.",
    ),
});

export const receiversSchema = z.strictObject({
  http: deviceHttpReceiverSchema
    .optional()
    .describe(
      'The HTTP listener devices push events to; absent: off (devices that push over HTTP cannot report).',
    ),
  gb28181: gb28181ReceiverSchema
    .optional()
    .describe(
      'GB/T 28181: the SIP server NVRs and cameras register to (see docs/gb28181.md). Off when absent.',
    ),
  siaDc09: siaDc09Schema
    .optional()
    .describe('Alarm panels over IP (SIA DC-09: Contact ID and SIA DCS, plain or AES). Off when absent.'),
});

export const limitsSchema = z.strictObject({
  mqtt: z
    .strictObject({
      connectPacketBytes: z
        .number()
        .int()
        .min(256)
        .max(65_536)
        .default(8192)
        .describe(
          'Largest MQTT packet a client may send before it is authenticated (CONNACK), the CONNECT included: a larger one closes the connection as soon as its header announces it, before its body is read.',
        ),
      packetBytes: z
        .number()
        .int()
        .min(1024)
        .max(64 * 1_048_576)
        .optional()
        .describe(
          'Largest MQTT packet an authenticated client may send: a larger one closes the connection on its header. Default: four times hub.maxPayloadBytes, so a payload a little over that is still refused as oversized and kept as a dead letter.',
        ),
      connectTimeoutSeconds: z
        .number()
        .positive()
        .max(300)
        .default(10)
        .describe('A connection whose CONNECT has not arrived whole within this long is closed.'),
    })
    .default({ connectPacketBytes: 8192, connectTimeoutSeconds: 10 })
    .describe('What a device connection may send.'),
  auth: z
    .strictObject({
      perAddress: guessWindowSchema
        .default({ maxFailures: 30, windowSeconds: 60, lockoutSeconds: 300 })
        .describe(
          'Failed authentications from one remote address (REST bearer tokens, Socket.IO handshakes, MQTT CONNECTs). Devices behind one NAT share an address: raise it for such sites.',
        ),
      perIdentity: guessWindowSchema
        .default({ maxFailures: 100, windowSeconds: 60, lockoutSeconds: 60 })
        .describe(
          'Failed authentications claiming one identity (an MQTT username, a JWT subject), from any address: guessing spread over many addresses. Higher than perAddress, so one address cannot lock a device out.',
        ),
      trackedKeys: z
        .number()
        .int()
        .min(100)
        .max(1_000_000)
        .default(10_000)
        .describe(
          'Addresses and identities remembered each (the oldest quiet ones forgotten first): bounds the memory a flood of addresses can take.',
        ),
    })
    .default({
      perAddress: { maxFailures: 30, windowSeconds: 60, lockoutSeconds: 300 },
      perIdentity: { maxFailures: 100, windowSeconds: 60, lockoutSeconds: 60 },
      trackedKeys: 10_000,
    })
    .describe(
      'Guessing: failed authentications per remote address and per claimed identity, on every transport.',
    ),
  realtime: z
    .strictObject({
      maxBufferedBytes: z
        .number()
        .int()
        .min(65_536)
        .max(1024 * 1_048_576)
        .default(8 * 1_048_576)
        .describe(
          'Pushes waiting for one Socket.IO client that does not read them: over this many bytes for a second, or four times as many at once, it is disconnected (it reconnects and reloads what it shows).',
        ),
    })
    .default({ maxBufferedBytes: 8 * 1_048_576 })
    .describe('Live clients.'),
});

export const hubSchema = z.strictObject({
  name: z.string().min(1).default('gridhub'),
  topicBase: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_-]*$/, 'must be one topic level: letters, digits, "-" or "_"')
    .default('gridhub')
    .describe('First level of every MQTT topic.'),
  maxPayloadBytes: z
    .number()
    .int()
    .min(256)
    .max(1_048_576)
    .default(16_384)
    .describe('Device payloads larger than this are refused as oversized.'),
  identifiers: z
    .enum(identifierModes)
    .default('masked')
    .describe("How residents' card numbers and plates are minimised: masked, hashed or none."),
  identifierHashKey: z
    .string()
    .min(16)
    .default(defaultIdentifierHashKey)
    .describe('Key of the HMAC used when identifiers are hashed. Set your own in production.'),
  commandTimeoutSeconds: z
    .number()
    .positive()
    .max(60)
    .default(5)
    .describe('How long a command waits for the device to answer before it fails as a timeout.'),
  jwtSecret: z
    .string()
    .min(32, 'a JWT secret needs at least 32 characters')
    .optional()
    .describe(
      'Key of the session JWTs the hub issues. Without it a random key is made at start (sessions end on restart).',
    ),
  jwtTtlMinutes: z
    .number()
    .positive()
    .max(24 * 60)
    .default(15)
    .describe(
      "How long a session JWT lasts; the pages refresh it within its session (POST /api/auth/token), never past the session's end.",
    ),
  loginLockout: z
    .strictObject({
      failures: z.number().int().min(1).max(100).default(5),
      windowMinutes: z
        .number()
        .positive()
        .max(24 * 60)
        .default(15),
      lockMinutes: z
        .number()
        .positive()
        .max(24 * 60)
        .default(15),
    })
    .default({ failures: 5, windowMinutes: 15, lockMinutes: 15 })
    .describe(
      'Password guessing: this many failed logins of one username within the window lock it for lockMinutes (known or not, so the answer tells nothing).',
    ),
  sessionMaxHours: z
    .number()
    .positive()
    .max(7 * 24)
    .default(12)
    .describe(
      'The absolute lifetime of a login session (a shift): no refresh takes a JWT past it, and its live sockets are closed at its end.',
    ),
  pushRecoverySeconds: z
    .number()
    .int()
    .min(0)
    .max(600)
    .default(120)
    .describe(
      'A live client that drops and reconnects within this long is sent what it missed (Socket.IO connection state recovery; of a run of repeats of one incident or statuses of one device, the newest; a fresh session instead if it missed over 1,000); 0 turns it off. Pushes are kept this long, superseded ones dropped.',
    ),
  timezone: z
    .string()
    .refine((zone) => {
      try {
        new Intl.DateTimeFormat('en', { timeZone: zone });
        return true;
      } catch {
        return false;
      }
    }, 'must be an IANA time zone, e.g. Asia/Shanghai')
    .default('Asia/Shanghai')
    .describe('The local time of duty rosters.'),
  reporterRetentionDays: z
    .number()
    .int()
    .min(1)
    .max(3650)
    .default(180)
    .describe(
      "How long a reporter's name and phone (a case registered at the centre or from 12345) are kept, from the registration: personal data, kept apart from the case and read only by its handlers; 回访 needs them after closure.",
    ),
  deadLetterLimit: z
    .number()
    .int()
    .min(100)
    .default(10_000)
    .describe('How many dead letters are kept; the oldest go first.'),
  eventLogPerDevice: z
    .number()
    .int()
    .min(10)
    .max(100_000)
    .default(1000)
    .describe("How many of each device's newest events the event log keeps (Redis Streams, or LMDB)."),
  // Security settings (#18).
  demo: z
    .boolean()
    .default(false)
    .describe(
      "Run with the demo's public secrets (demo tokens, session key, identifier key) on a non-loopback address. Only for a demonstration; GRIDHUB_DEMO=1 does the same.",
    ),
});

const coordinateSystems = ['WGS84', 'GCJ02'] as const;

const tileUrlSchema = z
  .string()
  .max(500)
  .regex(/^https?:\/\/[^\s"'<>\\]+$/, 'must be an http(s) URL')
  .refine((url) => ['{z}', '{x}', '{y}'].every((part) => url.includes(part)), 'must hold {z}, {x} and {y}');

/** The officer console's map: its background tiles (if any) and the coordinate systems involved. */
export const mapSchema = z
  .strictObject({
    coordinates: z
      .enum(coordinateSystems)
      .default('WGS84')
      .describe(
        "The coordinate system of this file's grid boundaries and device locations: WGS84 (GPS, GeoJSON) or GCJ02 (coordinates read off AMap or Tencent maps).",
      ),
    tiles: z
      .strictObject({
        url: tileUrlSchema.describe(
          'A tile URL template with {z}, {x}, {y} and {s} for a subdomain, e.g. Tianditu https://t{s}.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=vec&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk=KEY, AMap https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}, or a self-hosted server https://tiles.example.org/{z}/{x}/{y}.png.',
        ),
        subdomains: z
          .string()
          .regex(/^[a-z0-9]{0,10}$/, 'letters or digits, each one subdomain')
          .default('')
          .describe('The values of {s}, one character each, e.g. 01234567 for Tianditu, 1234 for AMap.'),
        coordinates: z
          .enum(coordinateSystems)
          .default('WGS84')
          .describe(
            'The system the tiles are drawn in: GCJ02 for AMap and Tencent, WGS84 for Tianditu and OpenStreetMap.',
          ),
        attribution: z
          .string()
          .max(300)
          .default('')
          .describe('Shown in the corner of the map, as the provider asks.'),
        maxZoom: z.number().int().min(1).max(22).default(18),
      })
      .nullable()
      .default(null)
      .describe(
        'Background tiles; null (the default): none, the grids and devices drawn alone (an offline centre).',
      ),
  })
  .describe("The officer console's map.");

export const configSchema = z.strictObject({
  hub: hubSchema.default(hubSchema.parse({})),
  jurisdiction: districtSchema,
  users: z.array(userSchema).default([]),
  devices: z.array(deviceSchema).default([]),
  rules: z.array(ruleSchema).default([]),
  rosters: z
    .array(rosterSchema)
    .default([])
    .describe(
      "Duty rosters per grid (its grid workers) or per centre (a community's, street's or district's duty officers); a grid or centre without one has all of them on duty.",
    ),
  deadlines: deadlinesSchema.default(deadlinesSchema.parse({})),
  routing: routingSchema.default(routingSchema.parse({})),
  outbound: outboundSchema.default(outboundSchema.parse({})).describe('The MQTT incident feed and webhooks.'),
  media: mediaSchema.default(mediaSchema.parse({})).describe('Snapshots and clips attached to incidents.'),
  cameras: camerasSchema
    .default(camerasSchema.parse({}))
    .describe("ONVIF camera sessions: where cameras reach the hub with Basic Notification's Notify."),
  store: storeSchema
    .default(storeSchema.parse({ kind: 'embedded' }))
    .describe('Where incidents, audit and device records live.'),
  mqtt: mqttSchema
    .default(mqttSchema.parse({}))
    .describe(
      'How devices reach the hub over MQTT: the embedded broker, an external one, or a cluster of embedded ones.',
    ),
  cluster: clusterSchema
    .default(clusterSchema.parse({}))
    .describe('Several hub instances sharing a Redis store: instance identity and camera leases.'),
  network: networkSchema
    .default(networkSchema.parse({}))
    .describe('Which networks the hub may connect to for cameras and webhooks (SSRF protection).'),
  correlations: z
    .array(correlationSchema)
    .default([])
    .describe('Events of different devices in one grid that join one incident and raise its severity.'),
  suppressions: z
    .array(suppressionSchema)
    .default([])
    .describe('Schedules during which matching events raise no incident (clearing events always pass).'),
  limits: limitsSchema
    .default(limitsSchema.parse({}))
    .describe('Limits at the network edge: packet sizes, connect timeouts, guessing, slow clients.'),
  flood: floodSchema
    .default(floodSchema.parse({}))
    .describe(
      'Alarm-storm control: past a number of incidents per grid, the rest group into one storm incident.',
    ),
  receivers: receiversSchema
    .default(receiversSchema.parse({}))
    .describe('Listeners for devices that push over protocols other than MQTT (HTTP, alarm receivers).'),
  // The network edge (#18).
  tls: tlsSchema
    .optional()
    .describe('TLS on the HTTP and MQTT listeners, from certificate files reloaded when they change.'),
  map: mapSchema.default(mapSchema.parse({})),
  notify: notifySchema
    .default(notifySchema.parse({}))
    .describe('Notifications that reach a locked phone: channels, policies, links.'),
  positions: positionsSchema.default(positionsSchema.parse({})),
  patrols: patrolsSchema.default(patrolsSchema.parse({})),
  http: httpSchema
    .default(httpSchema.parse({}))
    .describe('The HTTP edge: reverse proxies, CORS, and tokens for /metrics and /docs.'),
  // Cases from people (#25): the category catalogue and the 12345 work-order API.
  catalogue: catalogueSchema.default(catalogueSchema.parse({})),
  hotline: hotlineSchema.default(hotlineSchema.parse({})),
  // Field work (#24 point 2).
  field: fieldSchema
    .default(fieldSchema.parse({}))
    .describe(
      'Field work: arrivals placed by the phone, photos and videos uploaded as evidence, positions kept or not.',
    ),
  // The monthly assessment's scoring (#25 point 6).
  assessment: assessmentSchema.default(assessmentSchema.parse({})),
  // The lifecycle of #25: bounds of 延期 and 挂账, and the departments a case is handed to for coordination.
  lifecycle: lifecycleSchema
    .default(lifecycleSchema.parse({}))
    .describe('Bounds of extensions (延期) and suspensions (挂账).'),
  departments: departmentsSchema
    .default([])
    .describe(
      'Departments a case may be handed to for coordination (城管, 市场监管, 派出所), with their users.',
    ),
});

export type ConfigFile = z.infer<typeof configSchema>;
export type GridConfig = z.infer<typeof gridSchema>;
export type DistrictConfig = z.infer<typeof districtSchema>;
export type StreetConfig = z.infer<typeof streetSchema>;
export type CommunityConfig = z.infer<typeof communitySchema>;
export type UserConfig = z.infer<typeof userSchema>;
export type DeviceConfig = z.infer<typeof deviceSchema>;
export type RuleConfig = z.infer<typeof ruleSchema>;
export type HubSettings = z.infer<typeof hubSchema>;
export type RosterConfig = z.infer<typeof rosterSchema>;
export type DeadlinesConfig = z.infer<typeof deadlinesSchema>;
export type RoutingConfig = z.infer<typeof routingSchema>;
export type CorrelationConfig = z.infer<typeof correlationSchema>;
export type SuppressionConfig = z.infer<typeof suppressionSchema>;
export type FloodConfig = z.infer<typeof floodSchema>;
export type MqttConfig = z.infer<typeof mqttSchema>;
export type ExternalBrokerConfig = z.infer<typeof externalBrokerSchema>;
export type ClusterConfig = z.infer<typeof clusterSchema>;
export type NetworkConfig = z.infer<typeof networkSchema>;
export type LimitsConfig = z.infer<typeof limitsSchema>;
export type ReceiversConfig = z.infer<typeof receiversSchema>;
export type GuessWindowConfig = z.infer<typeof guessWindowSchema>;
export type SiaDc09Config = z.infer<typeof siaDc09Schema>;
export type Gb28181ReceiverConfig = z.infer<typeof gb28181ReceiverSchema>;

/**
 * What the file describes is the domain's, field for field: the jurisdiction's places (core/jurisdiction.ts),
 * devices less their MQTT secret (core/device.ts), rules with correlations, suppressions and flood control
 * (core/rule.ts), users (core/user.ts), rosters (core/roster.ts), routing and deadlines (core/dispatch.ts), and
 * the settings of the limits on guessing (auth/guess-limiter.ts) and of the HTTP edge (http/edge.ts). A field added
 * on one side and not the other fails to compile here, so no service needs to import this folder.
 */
type Describes<Config, Description> = [Config, keyof Description] extends [Description, keyof Config]
  ? keyof Config extends keyof Description
    ? true
    : false
  : false;
type Holds<Check extends true> = Check;
export type ConfigDescribesTheDomain = Holds<
  | Describes<Omit<DeviceConfig, 'secret' | 'secretSha256'>, DeviceDescription>
  | Describes<RuleConfig, RuleDescription>
  | Describes<CorrelationConfig, CorrelationDescription>
  | Describes<SuppressionConfig, SuppressionDescription>
  | Describes<UserConfig, UserDescription>
  | Describes<RosterConfig, RosterDescription>
  | Describes<RosterConfig['shifts'][number], ShiftDescription>
  | Describes<DistrictConfig, DistrictDescription>
  | Describes<StreetConfig, StreetDescription>
  | Describes<CommunityConfig, CommunityDescription>
  | Describes<GridConfig, GridDescription>
  | Describes<GridConfig['boundary'], PolygonDescription>
  | Describes<FloodConfig, FloodDescription>
  | Describes<RoutingConfig, RoutingDescription>
  | Describes<DeadlinesConfig, DeadlinesDescription>
  | Describes<DeadlinesConfig['default'], StageDeadlinesDescription>
  | Describes<LimitsConfig['auth'], GuessLimits>
  | Describes<GuessWindowConfig, GuessWindow>
  | Describes<HttpConfig, EdgeSettings>
  | Describes<SiaDc09Config, SiaDc09Settings>
>;
