import type { OnvifNotification } from '../../core/adapter.ts';
import type { ResolvedDevice } from '../../core/device.ts';
import type { OutboundGuard } from '../../net/outbound-address.ts';
import { attrOf, child, children, descendant, escapeXml, textAt, type XmlElement } from '../../net/xml.ts';
import type { Logger } from '../../observability/logger.ts';
import { type OnvifAuthentication, OnvifClient, OnvifError } from './onvif-client.ts';

/** What a session reports to the hub. */
export interface OnvifSessionEvents {
  /** The camera answered: it is alive. */
  heard(cameraId: string): void;
  /** The camera stopped answering (or refused us). */
  gone(cameraId: string, reason: string): void;
  /** Notifications pulled from the camera or posted by it, in order. */
  notifications(
    cameraId: string,
    notifications: readonly OnvifNotification[],
    receivedAt: number,
  ): Promise<void>;
}

/** Where cameras that only offer Basic Notification post their Notify: the hub's consumer endpoint. */
export interface NotificationConsumers {
  /**
   * A consumer address of its own for one subscription; its unguessable path token is the credential (an ONVIF
   * consumer cannot authenticate the camera). Each NotificationMessage posted there goes to `deliver`.
   */
  open(
    cameraId: string,
    deliver: (messages: readonly XmlElement[], receivedAt: number) => Promise<void>,
  ): { readonly url: string; close(): void };
}

export interface OnvifSessionOptions {
  readonly device: ResolvedDevice;
  readonly events: OnvifSessionEvents;
  readonly logger: Logger;
  /** Checks the camera's xaddr against network.outbound at each request, and the URIs it hands out. */
  readonly guard: OutboundGuard;
  readonly consumers: NotificationConsumers;
  /** Socket timeout of ordinary requests. */
  readonly requestTimeoutMs: number;
  /** While the subscription is healthy, how often the camera counts as heard. */
  readonly aliveEveryMs: number;
  /** Backoff after a failure: doubles from `retryMinMs` to `retryMaxMs`. */
  readonly retryMinMs: number;
  readonly retryMaxMs: number;
}

export type SessionState = 'connecting' | 'subscribed' | 'failing' | 'stopped';

/** How the camera delivers its events: pulled by the hub, or posted to the hub's consumer endpoint. */
export type EventDelivery = 'pull-point' | 'basic-notification';

export interface CameraInformation {
  readonly manufacturer: string;
  readonly model: string;
  readonly firmwareVersion: string;
  readonly serialNumber: string;
  readonly hardwareId: string;
}

/** The last failure of a session: the ONVIF operation and the camera's answer. */
export interface SessionFailure {
  readonly operation: string;
  readonly answer: string;
  /** ISO 8601. */
  readonly at: string;
}

/** How the session talks to the camera, once connected. */
export interface SessionLink {
  readonly events: EventDelivery | null;
  readonly authentication: OnvifAuthentication | null;
  /** The camera's clock minus the hub's. */
  readonly clockOffsetMs: number | null;
  readonly profileToken: string | null;
}

const actions = {
  createPullPoint: 'http://www.onvif.org/ver10/events/wsdl/EventPortType/CreatePullPointSubscriptionRequest',
  pull: 'http://www.onvif.org/ver10/events/wsdl/PullPointSubscription/PullMessagesRequest',
  subscribe: 'http://docs.oasis-open.org/wsn/bw-2/NotificationProducer/SubscribeRequest',
  renew: 'http://docs.oasis-open.org/wsn/bw-2/SubscriptionManager/RenewRequest',
  unsubscribe: 'http://docs.oasis-open.org/wsn/bw-2/SubscriptionManager/UnsubscribeRequest',
} as const;

/** What the hub asks a subscription to last; cameras often grant less. */
const requestedLifetime = 'PT60S';
const fallbackLifetimeMs = 60_000;

/**
 * A topic as cameras spell it → the key of the adapter's topic table: namespace prefixes dropped from every step
 * (`tns1:Device/Trigger/tnshik:AlarmIn` → `Device/Trigger/AlarmIn`), and the subtree and trailing-slash spellings
 * some firmware sends (`…/Motion/`, `…/Motion//.`) read as the topic itself.
 */
export function normalizeTopic(topic: string): string {
  return topic
    .trim()
    .replace(/\/\/\.$/, '')
    .split('/')
    .filter((step) => step !== '' && step !== '.')
    .map((step) => step.slice(step.indexOf(':') + 1))
    .join('/');
}

/** SimpleItems (`<tt:SimpleItem Name=… Value=…/>`) as a flat record. */
function simpleItems(holder: XmlElement | undefined): Record<string, string> {
  const record: Record<string, string> = {};
  for (const item of children(holder, 'SimpleItem')) {
    const name = item.attrs.Name;
    if (name !== undefined) record[name] = item.attrs.Value ?? '';
  }
  return record;
}

/**
 * One wsnt:NotificationMessage → the adapter's view; undefined without a topic. The camera's UtcTime is moved
 * onto the hub's clock by the camera's clock offset, so a camera hours off still dates its events right.
 */
export function toNotification(
  message: XmlElement,
  now: number,
  clockOffsetMs = 0,
): OnvifNotification | undefined {
  const topic = textAt(message, 'Topic');
  if (topic === undefined || normalizeTopic(topic) === '') return undefined;
  const body = child(child(message, 'Message'), 'Message');
  const utc = Date.parse(attrOf(body, 'UtcTime') ?? '');
  return {
    topic: normalizeTopic(topic),
    time: Number.isNaN(utc) ? now : utc - clockOffsetMs,
    operation: attrOf(body, 'PropertyOperation') ?? 'Changed',
    source: simpleItems(child(body, 'Source')),
    data: simpleItems(child(body, 'Data')),
  };
}

/** The services a session uses, at addresses the hub can reach. */
interface Services {
  readonly media: string;
  readonly events: string;
  readonly ptz: string | undefined;
  /** What GetCapabilities said of PullPoint support; undefined when it did not say. */
  readonly pullPoint: boolean | undefined;
}

/** The remaining lifetime of a subscription by the camera's own clock (ours may differ). */
function lifetimeMs(answer: XmlElement): number {
  const now = Date.parse(textAt(answer, 'CurrentTime') ?? '');
  const end = Date.parse(textAt(answer, 'TerminationTime') ?? '');
  return Number.isNaN(now) || Number.isNaN(end) || end <= now ? fallbackLifetimeMs : end - now;
}

/** Whether an answer says the camera does not do this (as opposed to refusing us, or not answering). */
function unsupported(error: unknown): boolean {
  return (
    error instanceof OnvifError &&
    /ActionNotSupported|NotSupported|NoSuchService|HTTP 404|HTTP 405|HTTP 501|not implemented/i.test(
      error.answer,
    )
  );
}

/**
 * One camera's ONVIF session: read the camera's clock, connect (WS-UsernameToken or HTTP Digest), read its stream
 * and snapshot URIs by profile token, then subscribe to its events: a PullPoint pulled in a loop, or where the camera
 * offers only Basic Notification, a subscription whose Notify the camera posts to the hub's consumer endpoint.
 * Subscriptions are renewed well before they lapse (lessons of Home Assistant's ONVIF integration); any failure —
 * a reboot, a lost subscription, a wrong password — ends the loop, reports the camera gone with the operation that
 * failed and the camera's answer, and starts over after a backoff.
 */
export class OnvifSession {
  readonly #options: OnvifSessionOptions;
  readonly #log: Logger;
  #state: SessionState = 'stopped';
  #client: OnvifClient | undefined;
  #services: Services | undefined;
  #profileToken: string | undefined;
  #delivery: EventDelivery | undefined;
  /** The subscription manager's address, while subscribed. */
  #subscription: string | undefined;
  #streamUri: string | undefined;
  #snapshotUri: string | undefined;
  #information: CameraInformation | undefined;
  #failure: SessionFailure | undefined;
  /** Closes the consumer address of the Basic Notification subscription, while there is one. */
  #closeConsumer: (() => void) | undefined;
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

  /** Why the session last failed: shown until it subscribes again. */
  get failure(): SessionFailure | undefined {
    return this.#failure;
  }

  get link(): SessionLink {
    return {
      events: this.#delivery ?? null,
      authentication: this.#client?.authentication ?? null,
      clockOffsetMs: this.#client?.clockOffsetMs ?? null,
      profileToken: this.#profileToken ?? null,
    };
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
    this.#closeConsumer?.();
    this.#closeConsumer = undefined;
    this.#unsubscribe();
    this.#client = undefined;
  }

  /**
   * Ends the camera's subscription, best effort [ONVIF Core 9.1: Unsubscribe]. A session given up (its lease moved
   * to another instance, the camera disabled) must not leave it on the camera until it expires: the camera counts
   * it, and many cameras allow only a few.
   */
  #unsubscribe(client = this.#client, manager = this.#subscription): void {
    if (manager === this.#subscription) this.#subscription = undefined;
    if (client === undefined || manager === undefined) return;
    client
      .call(manager, 'Unsubscribe', '<wsnt:Unsubscribe/>', { action: actions.unsubscribe })
      .catch((error: Error) =>
        this.#log.debug({ reason: error.message }, 'camera unsubscribe failed; it lapses by itself'),
      );
  }

  /** Turns the camera to a PTZ preset of the session's profile. */
  async gotoPreset(preset: string): Promise<void> {
    const client = this.#client;
    const ptz = this.#services?.ptz;
    if (client === undefined || this.#state !== 'subscribed') throw new Error('the camera is not connected');
    if (ptz === undefined) throw new OnvifError('GotoPreset', 'the camera offers no PTZ service');
    await client.call(
      ptz,
      'GotoPreset',
      `<tptz:GotoPreset><tptz:ProfileToken>${escapeXml(this.#profileToken ?? '')}</tptz:ProfileToken>` +
        `<tptz:PresetToken>${escapeXml(preset)}</tptz:PresetToken></tptz:GotoPreset>`,
    );
  }

  /** Connect → subscribe → follow until something fails, then back off and start over. */
  async #run(generation: number, backoffMs: number): Promise<void> {
    const { device, events, retryMaxMs, retryMinMs } = this.#options;
    const current = () => this.#generation === generation;
    try {
      const client = await this.#connect();
      if (!current()) return;
      this.#client = client;
      await this.#follow(client, generation);
    } catch (error) {
      if (!current()) return;
      this.#state = 'failing';
      this.#subscription = undefined;
      const failure =
        error instanceof OnvifError
          ? { operation: error.operation, answer: error.answer }
          : { operation: 'session', answer: (error as Error).message };
      this.#failure = { ...failure, at: new Date().toISOString() };
      this.#log.warn({ ...failure, retryInMs: backoffMs }, 'camera session failed; resubscribing');
      events.gone(device.id, `${failure.operation}: ${failure.answer}`);
      await this.#sleep(backoffMs);
      if (current()) void this.#run(generation, Math.min(backoffMs * 2, retryMaxMs));
      return;
    }
    // The loop ended without an error only when stopped.
    if (current()) void this.#run(generation, retryMinMs);
  }

  async #connect(): Promise<OnvifClient> {
    const { device, requestTimeoutMs, guard } = this.#options;
    const onvif = device.onvif;
    if (onvif === undefined) throw new Error('no onvif settings');
    // Every request is checked against network.outbound and sent to the checked address: a refusal fails the
    // session like an unreachable camera, and is counted.
    const client = new OnvifClient({
      xaddr: onvif.xaddr,
      username: onvif.username,
      password: onvif.password,
      fetch: guard.fetcher('onvif', { cameraId: device.id }),
      timeoutMs: requestTimeoutMs,
    });
    await client.synchronizeClock();
    const services = await this.#readServices(client);
    this.#services = services;
    const information = await client.call(
      client.deviceUrl,
      'GetDeviceInformation',
      '<tds:GetDeviceInformation/>',
    );
    const field = (name: string) => textAt(information, name) ?? '';
    this.#information = {
      manufacturer: field('Manufacturer'),
      model: field('Model'),
      firmwareVersion: field('FirmwareVersion'),
      serialNumber: field('SerialNumber'),
      hardwareId: field('HardwareId'),
    };
    const profileToken = await this.#chooseProfile(client, services.media);
    this.#profileToken = profileToken;
    const token = `<trt:ProfileToken>${escapeXml(profileToken)}</trt:ProfileToken>`;
    const stream = await client.call(
      services.media,
      'GetStreamUri',
      '<trt:GetStreamUri><trt:StreamSetup><tt:Stream>RTP-Unicast</tt:Stream>' +
        `<tt:Transport><tt:Protocol>RTSP</tt:Protocol></tt:Transport></trt:StreamSetup>${token}</trt:GetStreamUri>`,
    );
    this.#streamUri = textAt(stream, 'MediaUri', 'Uri') || undefined;
    if (this.#streamUri === undefined) throw new OnvifError('GetStreamUri', 'the answer has no MediaUri');
    this.#snapshotUri = await client
      .call(services.media, 'GetSnapshotUri', `<trt:GetSnapshotUri>${token}</trt:GetSnapshotUri>`)
      .then(
        (snapshot) => textAt(snapshot, 'MediaUri', 'Uri') || undefined,
        (error: Error) => {
          this.#log.info({ reason: error.message }, 'the camera gives no snapshot URI');
          return undefined;
        },
      );
    // Told now, so an operator need not wait for an alarm to learn it; refused (and counted) when fetched.
    const { policy } = guard;
    for (const [purpose, uri] of [
      ['stream', this.#streamUri],
      ['snapshot', this.#snapshotUri],
    ] as const) {
      const problem = uri === undefined ? undefined : policy.urlProblem(uri, purpose);
      if (problem !== undefined)
        this.#log.warn({ purpose, problem }, `the camera hands out a ${purpose} URI that will be refused`);
    }
    return client;
  }

  /**
   * Where the media, event and PTZ services are: GetCapabilities (every Profile S camera), else GetServices
   * (newer firmware that dropped the former). Never GetVideoSources: many cameras do not implement it.
   */
  async #readServices(client: OnvifClient): Promise<Services> {
    try {
      const answer = await client.call(
        client.deviceUrl,
        'GetCapabilities',
        '<tds:GetCapabilities><tds:Category>All</tds:Category></tds:GetCapabilities>',
      );
      const capabilities = child(answer, 'Capabilities');
      const media = textAt(capabilities, 'Media', 'XAddr');
      const events = textAt(capabilities, 'Events', 'XAddr');
      if (media === undefined || events === undefined)
        throw new OnvifError('GetCapabilities', 'the answer names no Media or Events service');
      const ptz = textAt(capabilities, 'PTZ', 'XAddr');
      const pullPoint = textAt(capabilities, 'Events', 'WSPullPointSupport');
      return {
        media: client.reachable(media, '/onvif/media_service'),
        events: client.reachable(events, '/onvif/events_service'),
        ptz: ptz === undefined || ptz === '' ? undefined : client.reachable(ptz, '/onvif/ptz_service'),
        pullPoint: pullPoint === undefined ? undefined : pullPoint === 'true',
      };
    } catch (error) {
      if (!unsupported(error)) throw error;
    }
    const answer = await client.call(
      client.deviceUrl,
      'GetServices',
      '<tds:GetServices><tds:IncludeCapability>false</tds:IncludeCapability></tds:GetServices>',
    );
    const byNamespace = new Map(
      children(answer, 'Service').map((service) => [textAt(service, 'Namespace'), textAt(service, 'XAddr')]),
    );
    const media = byNamespace.get('http://www.onvif.org/ver10/media/wsdl');
    const events = byNamespace.get('http://www.onvif.org/ver10/events/wsdl');
    if (media === undefined || events === undefined)
      throw new OnvifError('GetServices', 'the answer names no Media or Events service');
    const ptz = byNamespace.get('http://www.onvif.org/ver20/ptz/wsdl');
    return {
      media: client.reachable(media, '/onvif/media_service'),
      events: client.reachable(events, '/onvif/events_service'),
      ptz: ptz === undefined ? undefined : client.reachable(ptz, '/onvif/ptz_service'),
      pullPoint: undefined,
    };
  }

  /** The first profile with a video encoder (else the first): stream and snapshot URIs are asked by its token. */
  async #chooseProfile(client: OnvifClient, media: string): Promise<string> {
    const answer = await client.call(media, 'GetProfiles', '<trt:GetProfiles/>');
    const profiles = children(answer, 'Profiles').filter((profile) => (profile.attrs.token ?? '') !== '');
    const chosen =
      profiles.find((profile) => descendant(profile, 'VideoEncoderConfiguration') !== undefined) ??
      profiles[0];
    if (chosen === undefined)
      throw new OnvifError('GetProfiles', 'the camera has no media profile with a token');
    return chosen.attrs.token as string;
  }

  /** Subscribes (PullPoint where offered, else Basic Notification) and follows the subscription until it fails. */
  async #follow(client: OnvifClient, generation: number): Promise<void> {
    const services = this.#services as Services;
    if (services.pullPoint !== false) {
      let created: XmlElement | undefined;
      try {
        created = await client.call(
          services.events,
          'CreatePullPointSubscription',
          `<tev:CreatePullPointSubscription><tev:InitialTerminationTime>${requestedLifetime}</tev:InitialTerminationTime></tev:CreatePullPointSubscription>`,
          { action: actions.createPullPoint },
        );
      } catch (error) {
        if (!unsupported(error)) throw error;
        this.#log.info(
          { reason: (error as Error).message },
          'the camera offers no PullPoint; subscribing with Basic Notification',
        );
      }
      if (created !== undefined) return this.#pullLoop(client, created, generation);
    }
    return this.#notifyLoop(client, generation);
  }

  #subscribed(client: OnvifClient, generation: number, delivery: EventDelivery, manager: string): boolean {
    if (this.#generation !== generation) {
      // Stopped while it subscribed (stop() let go of the client): that subscription is nobody's.
      this.#unsubscribe(client, manager);
      return false;
    }
    this.#subscription = manager;
    this.#delivery = delivery;
    this.#state = 'subscribed';
    this.#failure = undefined;
    this.#options.events.heard(this.#options.device.id);
    this.#log.info(
      { events: delivery, authentication: this.#client?.authentication },
      'subscribed to camera events',
    );
    return true;
  }

  /** While subscribed, the camera counts as heard every aliveEveryMs; returns the stop function. */
  #keepAlive(generation: number): () => void {
    const { device, events, aliveEveryMs } = this.#options;
    const alive = setInterval(() => {
      if (this.#generation === generation && this.#state === 'subscribed') events.heard(device.id);
    }, aliveEveryMs);
    this.#timers.add(alive as unknown as NodeJS.Timeout);
    return () => {
      clearInterval(alive);
      this.#timers.delete(alive as unknown as NodeJS.Timeout);
    };
  }

  async #renew(client: OnvifClient, manager: string): Promise<number> {
    const renewed = await client.call(
      manager,
      'Renew',
      `<wsnt:Renew><wsnt:TerminationTime>${requestedLifetime}</wsnt:TerminationTime></wsnt:Renew>`,
      { action: actions.renew },
    );
    this.#options.events.heard(this.#options.device.id);
    return lifetimeMs(renewed);
  }

  async #deliver(messages: readonly XmlElement[], receivedAt: number, generation: number): Promise<void> {
    if (this.#generation !== generation) return;
    const now = Date.now();
    const offset = this.#client?.clockOffsetMs ?? 0;
    const notifications = messages
      .map((message) => toNotification(message, now, offset))
      .filter((notification): notification is OnvifNotification => notification !== undefined);
    if (notifications.length > 0)
      await this.#options.events.notifications(this.#options.device.id, notifications, receivedAt);
  }

  async #pullLoop(client: OnvifClient, created: XmlElement, generation: number): Promise<void> {
    const { device, events, requestTimeoutMs } = this.#options;
    const address = textAt(created, 'SubscriptionReference', 'Address');
    if (address === undefined || address === '')
      throw new OnvifError('CreatePullPointSubscription', 'the answer has no SubscriptionReference');
    const manager = client.reachable(address, '/');
    if (!this.#subscribed(client, generation, 'pull-point', manager)) return;
    // A pull does not extend the subscription [ONVIF Core 9.1: PullMessages]: renew while what is left could not
    // outlast the next pull, plus a fifth of the lifetime.
    let granted = lifetimeMs(created);
    let expiresAt = Date.now() + granted;
    const pullMs = () => Math.min(20_000, Math.max(1_000, Math.floor(granted / 4)));
    const stopAlive = this.#keepAlive(generation);
    try {
      while (this.#generation === generation) {
        if (expiresAt - Date.now() <= pullMs() + 0.2 * granted) {
          granted = await this.#renew(client, manager);
          expiresAt = Date.now() + granted;
        }
        const wait = pullMs();
        const pulled = await client.call(
          manager,
          'PullMessages',
          `<tev:PullMessages><tev:Timeout>PT${Math.ceil(wait / 1000)}S</tev:Timeout><tev:MessageLimit>20</tev:MessageLimit></tev:PullMessages>`,
          { action: actions.pull, timeoutMs: wait + requestTimeoutMs },
        );
        if (this.#generation !== generation) return;
        const receivedAt = performance.now();
        events.heard(device.id);
        await this.#deliver(children(pulled, 'NotificationMessage'), receivedAt, generation);
      }
    } finally {
      stopAlive();
    }
  }

  /**
   * Basic Notification [WS-BaseNotification 4.2; ONVIF Core 9.2]: Subscribe with the hub's consumer address; the
   * camera posts Notify there, and the hub renews at half the lifetime granted.
   */
  async #notifyLoop(client: OnvifClient, generation: number): Promise<void> {
    const services = this.#services as Services;
    const consumer = this.#options.consumers.open(this.#options.device.id, (messages, receivedAt) =>
      this.#deliver(messages, receivedAt, generation),
    );
    // stop() closes it too: a stopped session's sleep never ends, so this finally may never run.
    this.#closeConsumer = () => consumer.close();
    const stopAlive = this.#keepAlive(generation);
    try {
      const answer = await client.call(
        services.events,
        'Subscribe',
        '<wsnt:Subscribe>' +
          `<wsnt:ConsumerReference><wsa:Address>${escapeXml(consumer.url)}</wsa:Address></wsnt:ConsumerReference>` +
          `<wsnt:InitialTerminationTime>${requestedLifetime}</wsnt:InitialTerminationTime>` +
          '</wsnt:Subscribe>',
        { action: actions.subscribe },
      );
      const address = textAt(answer, 'SubscriptionReference', 'Address');
      if (address === undefined || address === '')
        throw new OnvifError('Subscribe', 'the answer has no SubscriptionReference');
      const manager = client.reachable(address, '/');
      if (!this.#subscribed(client, generation, 'basic-notification', manager)) return;
      let granted = lifetimeMs(answer);
      while (this.#generation === generation) {
        await this.#sleep(Math.max(200, Math.min(30_000, granted / 2)));
        if (this.#generation !== generation) return;
        granted = await this.#renew(client, manager);
      }
    } finally {
      stopAlive();
      consumer.close();
      this.#closeConsumer = undefined;
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
