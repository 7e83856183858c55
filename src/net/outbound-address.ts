import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { Readable } from 'node:stream';
import type { Counter } from 'prom-client';
import { type Logger, LogThrottle } from '../observability/logger.ts';

/**
 * The outbound address policy (against SSRF): every connection the hub opens on a caller's behalf — a camera's
 * ONVIF xaddr, the stream and snapshot URIs the camera hands out, webhook targets — goes to an address the
 * configuration allows, and to that very address. A host name is resolved once (every address it has), each
 * address checked, and the connection made to the checked one, so DNS cannot answer differently between the
 * check and the connect (rebinding). Nothing here follows redirects.
 *
 * Loopback, unspecified, link-local, multicast, reserved and cloud metadata addresses are refused unless an
 * entry of the allow-list names a network inside them (`127.0.0.0/8`, `169.254.169.254/32`): a wide entry such
 * as `0.0.0.0/0` never lets them through. IPv4-mapped and NAT64 IPv6 forms are checked as the IPv4 they carry.
 */

/** Why an outbound connection is made: each is a label of gridhub_outbound_refusals_total. */
export const outboundPurposes = ['onvif', 'snapshot', 'stream', 'device', 'webhook'] as const;
export type OutboundPurpose = (typeof outboundPurposes)[number];

/** Which allow-list each purpose is checked against. */
const listOf: Record<OutboundPurpose, keyof OutboundAllowLists> = {
  onvif: 'cameras',
  snapshot: 'cameras',
  stream: 'cameras',
  // A device's HTTP API (Hikvision ISAPI, Dahua CGI): its event stream and commands; cameras and NVRs among them.
  device: 'cameras',
  webhook: 'webhooks',
};

/** URL schemes each purpose may use: a camera's `file:` stream URI must not make ffmpeg read the hub's disk. */
const schemesOf: Record<OutboundPurpose, readonly string[]> = {
  onvif: ['http:', 'https:'],
  snapshot: ['http:', 'https:'],
  stream: ['rtsp:', 'rtsps:'],
  device: ['http:', 'https:'],
  webhook: ['http:', 'https:'],
};

/** Why a connection was refused: labels of gridhub_outbound_refusals_total, with their explanation. */
export const outboundRefusalReasons = {
  metadata: 'a cloud metadata address',
  loopback: 'a loopback address',
  unspecified: 'an unspecified address',
  link_local: 'a link-local address',
  multicast: 'a multicast address',
  reserved: 'a reserved address',
  not_allowed: 'outside the allowed networks',
  scheme: 'a URL scheme not allowed here',
  invalid: 'not a URL with a host',
} as const;
export type OutboundRefusalReason = keyof typeof outboundRefusalReasons;

/** The `network.outbound` section: per list, CIDRs and the words `private` and `public`. */
export interface OutboundAllowLists {
  readonly cameras: readonly string[];
  readonly webhooks: readonly string[];
}

/** RFC 1918 and RFC 4193 unique local addresses: where cameras usually are. */
const privateNetworks = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'];
/** Neither private nor public: carrier-grade NAT (RFC 6598), where some clouds keep their metadata services. */
const sharedNetworks = ['100.64.0.0/10'];

/** Refused unless allowed from inside; the most specific first, so a metadata address is never "link-local". */
const specialNetworks: readonly [OutboundRefusalReason, readonly string[]][] = [
  [
    'metadata',
    [
      '169.254.169.254/32', // AWS, GCP, Azure, OpenStack, Oracle
      '100.100.100.200/32', // Alibaba Cloud
      '168.63.129.16/32', // Azure WireServer
      'fd00:ec2::254/128', // AWS over IPv6
    ],
  ],
  ['loopback', ['127.0.0.0/8', '::1/128']],
  ['unspecified', ['0.0.0.0/8', '::/128']],
  ['link_local', ['169.254.0.0/16', 'fe80::/10']],
  ['multicast', ['224.0.0.0/4', 'ff00::/8']],
  ['reserved', ['240.0.0.0/4']],
];

interface Address {
  readonly family: 4 | 6;
  readonly value: bigint;
}

/** A CIDR as its first and last address. */
interface Network {
  readonly family: 4 | 6;
  readonly first: bigint;
  readonly last: bigint;
}

const contains = (network: Network, address: Address): boolean =>
  network.family === address.family && network.first <= address.value && address.value <= network.last;
const within = (inner: Network, outer: Network): boolean =>
  inner.family === outer.family && outer.first <= inner.first && inner.last <= outer.last;

/** An IP address as a number; IPv6 zone ids dropped. Undefined when `text` is not an address. */
function parseIp(text: string): Address | undefined {
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  const address = bare.split('%')[0] ?? '';
  const family = isIP(address);
  if (family === 4) return { family: 4, value: ipv4Value(address) };
  if (family !== 6) return undefined;
  // An IPv4 tail (`::ffff:127.0.0.1`) as its two groups, then `::` (at most one: isIP checked) as the zero
  // groups that make eight.
  const tail = address.slice(address.lastIndexOf(':') + 1);
  const expanded = tail.includes('.')
    ? `${address.slice(0, -tail.length)}${(ipv4Value(tail) >> 16n).toString(16)}:${(ipv4Value(tail) & 0xffffn).toString(16)}`
    : address;
  const [head = '', rest] = expanded.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = rest === undefined || rest === '' ? [] : rest.split(':');
  const groups =
    rest === undefined
      ? left
      : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return { family: 6, value: groups.reduce((value, group) => (value << 16n) | BigInt(`0x${group}`), 0n) };
}

function ipv4Value(text: string): bigint {
  return text.split('.').reduce((value, octet) => (value << 8n) | BigInt(Number(octet)), 0n);
}

const mappedPrefix = 0xffffn; // ::ffff:0:0/96 (RFC 4291 §2.5.5.2)
const nat64Prefix = 0x64ff9b0000000000000000n; // 64:ff9b::/96 (RFC 6052)

/** An IPv6 address that carries an IPv4 one (mapped, or NAT64's well-known prefix) as that IPv4 address. */
function normalize(address: Address): Address {
  if (address.family !== 6) return address;
  const high = address.value >> 32n;
  if (high === mappedPrefix || high === nat64Prefix) return { family: 4, value: address.value & 0xffffffffn };
  return address;
}

/** `10.0.0.0/8`, `fd00::/8`, or one address (`10.0.0.7`, a /32 or /128). Throws with a message for people. */
function parseNetwork(text: string): Network {
  const [base = '', prefixText, ...rest] = text.split('/');
  const parsed = parseIp(base);
  if (parsed === undefined || rest.length > 0 || base.includes('%'))
    throw new Error(`"${text}" is not a CIDR (e.g. 10.0.0.0/8) nor private nor public`);
  const bits = parsed.family === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? bits : /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : -1;
  if (prefix < 0 || prefix > bits) throw new Error(`"${text}": the prefix length must be 0 to ${bits}`);
  const hostBits = BigInt(bits - prefix);
  const hostMask = (1n << hostBits) - 1n;
  if ((parsed.value & hostMask) !== 0n)
    throw new Error(`"${text}" has host bits set: its network is ${networkText(parsed, prefix)}`);
  const network: Network = { family: parsed.family, first: parsed.value, last: parsed.value | hostMask };
  // ::ffff:10.0.0.0/104 is 10.0.0.0/8: addresses are checked in their IPv4 form, so entries are too.
  if (parsed.family === 6 && prefix >= 96 && parsed.value >> 32n === mappedPrefix)
    return { family: 4, first: network.first & 0xffffffffn, last: network.last & 0xffffffffn };
  return network;
}

function networkText(address: Address, prefix: number): string {
  const bits = address.family === 4 ? 32 : 128;
  const value = address.value & ~((1n << BigInt(bits - prefix)) - 1n);
  return `${formatAddress({ family: address.family, value })}/${prefix}`;
}

function formatAddress(address: Address): string {
  if (address.family === 4)
    return [24n, 16n, 8n, 0n].map((shift) => String((address.value >> shift) & 0xffn)).join('.');
  const groups: string[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n)
    groups.push(((address.value >> shift) & 0xffffn).toString(16));
  return groups.join(':');
}

/** Throws the reason an allow-list entry is wrong; the config schema reports it at the entry's path. */
export function checkAllowEntry(entry: string): void {
  if (entry !== 'private' && entry !== 'public') parseNetwork(entry);
}

/**
 * Whether `address` (a request's remote address) lies in one of `entries` (CIDRs, single addresses, `private`,
 * `public`), read as an allow-list is: loopback and the other special blocks only when an entry names them.
 */
export function addressAllowed(entries: readonly string[], address: string): boolean {
  const parsed = parseIp(address);
  return parsed !== undefined && new AllowList(entries).refusal(normalize(parsed)) === undefined;
}

const specials = specialNetworks.map(([reason, cidrs]) => ({ reason, networks: cidrs.map(parseNetwork) }));
const privates = privateNetworks.map(parseNetwork);
const shared = sharedNetworks.map(parseNetwork);

/** One allow-list, parsed: its networks, and for each special block the entries inside it. */
class AllowList {
  readonly #networks: readonly Network[];
  readonly #private: boolean;
  readonly #public: boolean;

  constructor(entries: readonly string[]) {
    this.#private = entries.includes('private');
    this.#public = entries.includes('public');
    this.#networks = entries.filter((entry) => entry !== 'private' && entry !== 'public').map(parseNetwork);
  }

  /** Undefined when the (normalized) address is allowed, else why not. */
  refusal(address: Address): OutboundRefusalReason | undefined {
    for (const special of specials) {
      const block = special.networks.find((network) => contains(network, address));
      if (block === undefined) continue;
      const named = this.#networks.some((network) => contains(network, address) && within(network, block));
      return named ? undefined : special.reason;
    }
    if (this.#networks.some((network) => contains(network, address))) return undefined;
    const isPrivate = privates.some((network) => contains(network, address));
    if (isPrivate) return this.#private ? undefined : 'not_allowed';
    const isShared = shared.some((network) => contains(network, address));
    return this.#public && !isShared ? undefined : 'not_allowed';
  }
}

/** A connection refused by the policy; its message names the host and the reason, never URL credentials. */
export class OutboundRefused extends Error {
  constructor(
    readonly purpose: OutboundPurpose,
    readonly reason: OutboundRefusalReason,
    message: string,
  ) {
    super(message);
    this.name = 'OutboundRefused';
  }
}

/** Where a checked URL goes: the URL (credentials removed), its host as written, and the address to connect to. */
export interface CheckedTarget {
  readonly url: URL;
  readonly host: string;
  readonly address: string;
  readonly family: 4 | 6;
}

/** The allow-lists, answering for literal addresses only: no DNS, so config validation can use it. */
export class AddressPolicy {
  readonly #lists: Record<keyof OutboundAllowLists, AllowList>;

  constructor(lists: OutboundAllowLists) {
    this.#lists = { cameras: new AllowList(lists.cameras), webhooks: new AllowList(lists.webhooks) };
  }

  /** Undefined when `address` (an IP literal) may be contacted for `purpose`, else the reason it may not. */
  refusalOf(address: string, purpose: OutboundPurpose): OutboundRefusalReason | undefined {
    const parsed = parseIp(address);
    if (parsed === undefined) return 'invalid';
    return this.#lists[listOf[purpose]].refusal(normalize(parsed));
  }

  /**
   * The refusal of a URL whose host is an IP literal, or whose scheme is wrong, as a sentence; undefined when it
   * passes, or when its host is a name (names are checked when they are resolved, at each connection).
   */
  urlProblem(url: string, purpose: OutboundPurpose): string | undefined {
    const parsed = parseUrl(url);
    if (parsed === undefined) return describe(purpose, 'invalid');
    if (!schemesOf[purpose].includes(parsed.protocol)) return describe(purpose, 'scheme', parsed.protocol);
    const host = bareHost(parsed);
    if (isIP(host) === 0) return undefined;
    const reason = this.refusalOf(host, purpose);
    return reason === undefined ? undefined : describe(purpose, reason, host);
  }
}

function parseUrl(url: string | URL): URL | undefined {
  try {
    const parsed = new URL(url);
    return parsed.hostname === '' ? undefined : parsed;
  } catch {
    return undefined;
  }
}

/** The URL's host without IPv6 brackets. */
function bareHost(url: URL): string {
  const host = url.hostname;
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

function describe(purpose: OutboundPurpose, reason: OutboundRefusalReason, subject?: string): string {
  const list = `network.outbound.${listOf[purpose]}`;
  if (reason === 'scheme')
    return `${subject} is not allowed for ${purpose} URLs (allowed: ${schemesOf[purpose].join(' ')})`;
  if (reason === 'invalid') return `the ${purpose} URL is ${outboundRefusalReasons.invalid}`;
  const what = reason === 'not_allowed' ? 'outside the networks' : `${outboundRefusalReasons[reason]}, not`;
  return `${subject} is ${what} allowed by ${list}`;
}

/** What a refused connection's log line may say about who asked (ids, the remote address), never secrets. */
export type RefusalContext = Readonly<Record<string, string | number | undefined>>;

/** A fetch() of one request: what the hub's HTTP clients use (digest-fetch, webhooks). */
export type OutboundFetch = (
  url: string | URL,
  init: {
    readonly method?: string;
    readonly headers?: Readonly<Record<string, string>>;
    readonly body?: string;
    readonly signal?: AbortSignal;
    /** Redirects are never followed by the guard's client; `error` and `manual` both get the 3xx as it is. */
    readonly redirect?: 'error' | 'manual';
  },
) => Promise<Response>;

export interface OutboundGuardOptions {
  readonly policy: AddressPolicy;
  /** gridhub_outbound_refusals_total (outboundGuardMetrics in outbound-metrics.ts). */
  readonly refusals: Counter<'purpose' | 'reason'>;
  readonly logger: Logger;
  /** Name resolution; dns.lookup by default (what connect() itself would use: /etc/hosts included). */
  readonly lookup?: (host: string) => Promise<readonly LookupAddress[]>;
}

/** Statuses whose response has no body (fetch's null body statuses). */
const nullBodyStatuses = new Set([101, 103, 204, 205, 304]);

/**
 * The policy applied: resolves a URL's host, checks every address, counts and logs a refusal, and makes requests
 * to the checked address. Every outbound fetch site takes one.
 */
export class OutboundGuard {
  readonly policy: AddressPolicy;
  readonly #options: OutboundGuardOptions;
  readonly #log: Logger;
  readonly #throttle = new LogThrottle();
  // Own pools: a kept-alive socket is reused only by requests that went through this guard.
  readonly #agents = {
    'http:': new http.Agent({ keepAlive: true }),
    'https:': new https.Agent({ keepAlive: true }),
  };

  constructor(options: OutboundGuardOptions) {
    this.#options = options;
    this.policy = options.policy;
    this.#log = options.logger.child({ ns: 'outbound.policy' });
  }

  /**
   * The URL's target, checked: its scheme for the purpose, and every address its host resolves to. Throws
   * {@link OutboundRefused} (counted and logged) when any is refused; a host that does not resolve throws the
   * lookup's error (ENOTFOUND), which is no refusal.
   */
  async check(
    url: string | URL,
    purpose: OutboundPurpose,
    context: RefusalContext = {},
  ): Promise<CheckedTarget> {
    const parsed = parseUrl(url);
    if (parsed === undefined) throw this.#refuse(purpose, 'invalid', '', context);
    if (!schemesOf[purpose].includes(parsed.protocol))
      throw this.#refuse(purpose, 'scheme', parsed.hostname, context, parsed.protocol);
    parsed.username = '';
    parsed.password = '';
    const host = bareHost(parsed);
    const addresses: readonly LookupAddress[] =
      isIP(host) === 0
        ? await (this.#options.lookup ?? lookupAll)(host)
        : [{ address: host, family: isIP(host) }];
    if (addresses.length === 0)
      throw Object.assign(new Error(`${host} has no address`), { code: 'ENOTFOUND' });
    // Every address, not only the first: a name with one allowed and one refused address is refused.
    for (const { address } of addresses) {
      const reason = this.policy.refusalOf(address, purpose);
      if (reason !== undefined) throw this.#refuse(purpose, reason, host, context, address);
    }
    const chosen = addresses[0] as LookupAddress;
    return { url: parsed, host, address: chosen.address, family: chosen.family === 6 ? 6 : 4 };
  }

  /** The URL with its host replaced by the checked address, for clients that resolve on their own (ffmpeg). */
  async pinnedUrl(url: string, purpose: OutboundPurpose, context: RefusalContext = {}): Promise<string> {
    const target = await this.check(url, purpose, context);
    const pinned = new URL(url);
    pinned.hostname = target.family === 6 ? `[${target.address}]` : target.address;
    return pinned.href;
  }

  /**
   * A fetch() that checks the URL, then connects to the checked address (the request keeps the host name, for
   * the Host header and TLS). Redirects are never followed: a 3xx is answered as it is. Errors are fetch's:
   * a TypeError whose cause has the code; a refusal is an {@link OutboundRefused}.
   */
  fetcher(purpose: OutboundPurpose, context: RefusalContext = {}): OutboundFetch {
    return async (url, init) => {
      const target = await this.check(url, purpose, context);
      return this.#request(target, init);
    };
  }

  /** Frees the kept-alive sockets. */
  close(): void {
    for (const agent of Object.values(this.#agents)) agent.destroy();
  }

  #request(target: CheckedTarget, init: Parameters<OutboundFetch>[1]): Promise<Response> {
    const { url } = target;
    const method = init.method ?? 'GET';
    const pinned: LookupFunction = (_host, options, callback) => {
      if ((options as { all?: boolean }).all)
        (callback as (error: null, addresses: LookupAddress[]) => void)(null, [
          { address: target.address, family: target.family },
        ]);
      else callback(null, target.address, target.family);
    };
    const transport = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const request = transport.request(
        url,
        {
          method,
          headers: init.headers ?? {},
          agent: this.#agents[url.protocol as 'http:' | 'https:'],
          lookup: pinned,
          ...(init.signal === undefined ? {} : { signal: init.signal }),
        },
        (response) => {
          const headers = new Headers();
          const raw = response.rawHeaders;
          const status = response.statusCode ?? 0;
          try {
            for (let index = 0; index + 1 < raw.length; index += 2)
              headers.append(raw[index] as string, raw[index + 1] as string);
            const empty = nullBodyStatuses.has(status) || method === 'HEAD';
            if (empty) response.resume();
            const body = empty ? null : (Readable.toWeb(response) as ReadableStream<Uint8Array>);
            resolve(new Response(body, { status, statusText: response.statusMessage ?? '', headers }));
          } catch (error) {
            response.destroy();
            reject(new TypeError('fetch failed', { cause: error }));
          }
        },
      );
      request.on('error', (error) =>
        reject(init.signal?.aborted ? init.signal.reason : new TypeError('fetch failed', { cause: error })),
      );
      request.end(init.body);
    });
  }

  #refuse(
    purpose: OutboundPurpose,
    reason: OutboundRefusalReason,
    host: string,
    context: RefusalContext,
    subject?: string,
  ): OutboundRefused {
    this.#options.refusals.labels(purpose, reason).inc();
    const message =
      reason === 'scheme' || reason === 'invalid'
        ? describe(purpose, reason, subject)
        : describe(purpose, reason, subject === host ? host : `${host} (${subject})`);
    // Repeats of one refusal (a camera's session retrying, one webhook's deliveries) are logged once per 10 s;
    // a refusal for someone else (another camera, webhook, caller) gets its own line.
    const suppressed = this.#throttle.admit(
      `${purpose}:${reason}:${host}:${Object.values(context).join(',')}`,
    );
    if (suppressed >= 0)
      this.#log.warn(
        {
          ...context,
          purpose,
          reason,
          host,
          ...(reason === 'scheme' ? { scheme: subject } : subject === host ? {} : { address: subject }),
          suppressed,
        },
        `outbound connection refused: ${message}`,
      );
    return new OutboundRefused(purpose, reason, `refused: ${message}`);
  }
}

function lookupAll(host: string): Promise<readonly LookupAddress[]> {
  return new Promise((resolve, reject) =>
    dnsLookup(host, { all: true, verbatim: true }, (error, addresses) =>
      error ? reject(error) : resolve(addresses),
    ),
  );
}
