import { Cam } from 'onvif';
import type { OnvifNotification } from '../../core/adapter.ts';
import type { ResolvedDevice } from '../../core/device.ts';
import type { OutboundGuard } from '../../net/outbound-address.ts';
import type { Logger } from '../../observability/logger.ts';

/** What a session reports to the hub. */
export interface OnvifSessionEvents {
  /** The camera answered: it is alive. */
  heard(cameraId: string): void;
  /** The camera stopped answering (or refused us). */
  gone(cameraId: string, reason: string): void;
  /** Notifications pulled from the camera, in order. */
  notifications(
    cameraId: string,
    notifications: readonly OnvifNotification[],
    receivedAt: number,
  ): Promise<void>;
}

export interface OnvifSessionOptions {
  readonly device: ResolvedDevice;
  readonly events: OnvifSessionEvents;
  readonly logger: Logger;
  /** Checks the camera's xaddr against network.outbound before each connect, and the URIs it hands out. */
  readonly guard: OutboundGuard;
  /** Socket timeout of ordinary requests. */
  readonly requestTimeoutMs: number;
  /** While the subscription is healthy, how often the camera counts as heard (a pull may wait up to a minute). */
  readonly aliveEveryMs: number;
  /** Backoff after a failure: doubles from `retryMinMs` to `retryMaxMs`. */
  readonly retryMinMs: number;
  readonly retryMaxMs: number;
}

export type SessionState = 'connecting' | 'subscribed' | 'failing' | 'stopped';

export interface CameraInformation {
  readonly manufacturer: string;
  readonly model: string;
  readonly firmwareVersion: string;
  readonly serialNumber: string;
  readonly hardwareId: string;
}

/** The parts of the `onvif` client's linerase'd answers this session reads. */
interface PulledMessages {
  currentTime?: string | Date;
  terminationTime?: string | Date;
  notificationMessage?: unknown;
}

function call<T>(cam: Cam, method: (callback: (error: Error | null, data?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    method.call(cam, (error, data) => (error ? reject(error) : resolve(data as T)));
  });
}

/** The onvif client's PullMessages Timeout (PT1M, fixed in the library). */
const longestPullMs = 60_000;

const asArray = <T>(value: T | T[] | undefined): T[] =>
  value === undefined ? [] : Array.isArray(value) ? value : [value];

/** SimpleItems (`{$: {Name, Value}}`, one or many) as a flat record. */
function simpleItems(holder: unknown): Record<string, string> {
  const items = asArray((holder as { simpleItem?: unknown } | undefined)?.simpleItem);
  const record: Record<string, string> = {};
  for (const item of items) {
    const attributes = (item as { $?: { Name?: unknown; Value?: unknown } }).$;
    if (typeof attributes?.Name === 'string') record[attributes.Name] = String(attributes.Value ?? '');
  }
  return record;
}

/** One wsnt:NotificationMessage as the `onvif` client parses it → the adapter's view; undefined when malformed. */
export function toNotification(raw: unknown, now: number): OnvifNotification | undefined {
  const message = raw as { topic?: { _?: unknown }; message?: { message?: unknown } } | null | undefined;
  const topic = message?.topic?._;
  if (typeof topic !== 'string') return undefined;
  const body = message?.message?.message as
    | { $?: { UtcTime?: unknown; PropertyOperation?: unknown }; source?: unknown; data?: unknown }
    | undefined;
  const utc = body?.$?.UtcTime;
  const time = utc instanceof Date ? utc.getTime() : typeof utc === 'string' ? Date.parse(utc) : Number.NaN;
  return {
    // `tns1:RuleEngine/CellMotionDetector/Motion` → `RuleEngine/CellMotionDetector/Motion`
    topic: topic.slice(topic.indexOf(':') + 1),
    time: Number.isNaN(time) ? now : time,
    operation: typeof body?.$?.PropertyOperation === 'string' ? body.$.PropertyOperation : 'Changed',
    source: simpleItems(body?.source),
    data: simpleItems(body?.data),
  };
}

/**
 * One camera's ONVIF session: connect (WS-Security UsernameToken), read its stream and snapshot URIs, then
 * subscribe with a PullPoint and pull in a loop. The subscription is renewed at 80% of its lifetime (lessons of
 * Home Assistant's ONVIF integration: renew well before expiry); any failure — a reboot, a lost subscription, a
 * wrong password — ends the loop, reports the camera gone, and starts over from connect after a backoff.
 */
export class OnvifSession {
  readonly #options: OnvifSessionOptions;
  readonly #log: Logger;
  #state: SessionState = 'stopped';
  #cam: Cam | undefined;
  #streamUri: string | undefined;
  #snapshotUri: string | undefined;
  #information: CameraInformation | undefined;
  #timers = new Set<NodeJS.Timeout>();
  #generation = 0;

  constructor(options: OnvifSessionOptions) {
    this.#options = options;
    this.#log = options.logger.child({ ns: 'onvif', cameraId: options.device.id });
  }

  get state(): SessionState {
    return this.#state;
  }

  get streamUri(): string | undefined {
    return this.#streamUri;
  }

  get snapshotUri(): string | undefined {
    return this.#snapshotUri;
  }

  /** What the camera says of itself (GetDeviceInformation), once connected. */
  get information(): CameraInformation | undefined {
    return this.#information;
  }

  start(): void {
    this.#state = 'connecting';
    void this.#run(++this.#generation, this.#options.retryMinMs);
  }

  stop(): void {
    this.#state = 'stopped';
    this.#generation++;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    const cam = this.#cam;
    this.#cam = undefined;
    if (cam !== undefined) this.#unsubscribe(cam);
  }

  /**
   * Ends the camera's PullPoint subscription, best effort [ONVIF Core 9.1: Unsubscribe]. A session given up (its
   * lease moved to another instance, the camera disabled) must not leave it on the camera until it expires, with a
   * pull still held open on it: the camera counts it, and many cameras allow only a few.
   */
  #unsubscribe(cam: Cam): void {
    if ((cam as unknown as { events?: { subscription?: unknown } }).events?.subscription === undefined)
      return;
    (cam as unknown as { unsubscribe: (callback: (error?: Error | null) => void) => void }).unsubscribe(
      (error) => {
        if (error)
          this.#log.debug({ reason: error.message }, 'camera unsubscribe failed; it lapses by itself');
      },
    );
  }

  /** Turns the camera to a PTZ preset of its first profile. */
  async gotoPreset(preset: string): Promise<void> {
    const cam = this.#cam;
    if (cam === undefined || this.#state !== 'subscribed') throw new Error('the camera is not connected');
    await call(cam, (callback) => cam.gotoPreset({ preset }, callback));
  }

  /** Connect → subscribe → pull until something fails, then back off and start over. */
  async #run(generation: number, backoffMs: number): Promise<void> {
    const { device, events, retryMaxMs, retryMinMs } = this.#options;
    const current = () => this.#generation === generation;
    try {
      const cam = await this.#connect();
      if (!current()) return;
      this.#cam = cam;
      const lifetimeMs = await this.#subscribe(cam);
      // Stopped while it subscribed: that subscription is nobody's.
      if (!current()) {
        this.#unsubscribe(cam);
        return;
      }
      this.#state = 'subscribed';
      events.heard(device.id);
      this.#log.info('subscribed to camera events');
      await this.#pullLoop(cam, generation, lifetimeMs);
    } catch (error) {
      if (!current()) return;
      this.#state = 'failing';
      const reason = (error as Error).message;
      this.#log.warn({ reason, retryInMs: backoffMs }, 'camera session failed; resubscribing');
      events.gone(device.id, reason);
      await this.#sleep(backoffMs);
      if (current()) void this.#run(generation, Math.min(backoffMs * 2, retryMaxMs));
      return;
    }
    // The loop ended without an error only when stopped.
    if (current()) void this.#run(generation, retryMinMs);
  }

  async #connect(): Promise<Cam> {
    const { device, requestTimeoutMs } = this.#options;
    const onvif = device.onvif;
    if (onvif === undefined) throw new Error('no onvif settings');
    // Resolved and checked at each connect; the client is given the checked address, not the name, so every
    // request of the session goes there (with preserveAddress, the service and subscription addresses the camera
    // reports are rewritten to it too). A refusal fails the session like an unreachable camera, and is counted.
    const target = await this.#options.guard.check(onvif.xaddr, 'onvif', { cameraId: device.id });
    const address = target.url;
    const secure = address.protocol === 'https:';
    const cam = new Cam({
      hostname: target.address,
      port: Number(address.port || (secure ? 443 : 80)),
      path: address.pathname,
      useSecure: secure,
      // TLS still verifies the name the xaddr gave, not the address.
      ...(secure && target.host !== target.address ? { secureOpts: { servername: target.host } } : {}),
      username: onvif.username,
      password: onvif.password,
      timeout: requestTimeoutMs,
      autoconnect: false,
      // Keep the address we were given: cameras behind NAT report service addresses we cannot reach.
      preserveAddress: true,
    });
    await call(cam, (callback) => cam.connect(callback as never));
    const information = await call<Record<string, unknown>>(cam, (callback) =>
      cam.getDeviceInformation(callback),
    );
    this.#information = {
      manufacturer: String(information.manufacturer ?? ''),
      model: String(information.model ?? ''),
      firmwareVersion: String(information.firmwareVersion ?? ''),
      serialNumber: String(information.serialNumber ?? ''),
      hardwareId: String(information.hardwareId ?? ''),
    };
    const stream = await call<{ uri: string }>(cam, (callback) =>
      cam.getStreamUri({ protocol: 'RTSP' }, callback),
    );
    this.#streamUri = stream.uri;
    this.#snapshotUri = await call<{ uri: string }>(cam, (callback) => cam.getSnapshotUri(callback)).then(
      (snapshot) => snapshot.uri,
      () => undefined,
    );
    // Told now, so an operator need not wait for an alarm to learn it; refused (and counted) when fetched.
    const { policy } = this.#options.guard;
    for (const [purpose, uri] of [
      ['stream', this.#streamUri],
      ['snapshot', this.#snapshotUri],
    ] as const) {
      const problem = uri === undefined ? undefined : policy.urlProblem(uri, purpose);
      if (problem !== undefined)
        this.#log.warn({ purpose, problem }, `the camera hands out a ${purpose} URI that will be refused`);
    }
    return cam;
  }

  async #subscribe(cam: Cam): Promise<number> {
    const subscription = await call<{ currentTime?: Date | string; terminationTime?: Date | string }>(
      cam,
      (callback) => cam.createPullPointSubscription(callback),
    );
    return this.#lifetimeMs(subscription);
  }

  /** The subscription's remaining lifetime by the camera's own clock (our clocks may differ). */
  #lifetimeMs(answer: { currentTime?: Date | string; terminationTime?: Date | string } | undefined): number {
    const now = answer?.currentTime === undefined ? Number.NaN : new Date(answer.currentTime).getTime();
    const end =
      answer?.terminationTime === undefined ? Number.NaN : new Date(answer.terminationTime).getTime();
    return Number.isNaN(now) || Number.isNaN(end) || end <= now ? 60_000 : end - now;
  }

  async #pullLoop(cam: Cam, generation: number, lifetimeMs: number): Promise<void> {
    const { device, events, aliveEveryMs } = this.#options;
    // A pull does not extend the subscription [ONVIF Core 9.1: PullMessages] and the onvif client's pulls may wait
    // a minute (PT1M): renew while what is left could not outlast the next pull, plus a fifth of the lifetime.
    let expiresAt = Date.now() + lifetimeMs;
    let granted = lifetimeMs;
    const renewDue = () => expiresAt - Date.now() <= longestPullMs + 0.2 * granted;
    const alive = setInterval(() => {
      if (this.#generation === generation && this.#state === 'subscribed') events.heard(device.id);
    }, aliveEveryMs);
    this.#timers.add(alive as unknown as NodeJS.Timeout);
    try {
      while (this.#generation === generation) {
        if (renewDue()) {
          const renewed = await call<PulledMessages>(cam, (callback) => cam.renew({}, callback));
          granted = this.#lifetimeMs(renewed);
          expiresAt = Date.now() + granted;
          events.heard(device.id);
        }
        const pulled = await call<PulledMessages>(cam, (callback) =>
          cam.pullMessages({ messageLimit: 20 }, callback),
        );
        if (this.#generation !== generation) return;
        const receivedAt = performance.now();
        events.heard(device.id);
        const now = Date.now();
        const notifications = asArray(pulled?.notificationMessage)
          .map((raw) => toNotification(raw, now))
          .filter((notification): notification is OnvifNotification => notification !== undefined);
        if (notifications.length > 0) await events.notifications(device.id, notifications, receivedAt);
      }
    } finally {
      clearInterval(alive);
      this.#timers.delete(alive as unknown as NodeJS.Timeout);
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        resolve();
      }, ms);
      this.#timers.add(timer);
    });
  }
}
