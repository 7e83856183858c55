import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { type Notification, notificationXml } from './events.ts';
import type { CameraContext, Handler, ServiceName } from './services.ts';
import {
  child,
  childText,
  envelope,
  escapeXml,
  faults,
  isoTime,
  NS,
  parseTerminationTime,
  SoapFault,
  type XmlElement,
} from './soap.ts';

/**
 * Fault knobs for what real camera firmware does that the hub must survive, kept apart from the camera's ONVIF
 * services: each is off by default, so the simulator behaves as before unless a test turns one on.
 *
 * - `refuseUnauthenticatedClock`: GetSystemDateAndTime needs credentials too (many Hikvision and Uniview firmwares,
 *   although ONVIF Core 5.9.4 lists it as pre-auth), answered with ter:NotAuthorized.
 * - `clockSkewMs`: the camera's clock runs this far from the real time (no NTP): its GetSystemDateAndTime, its HTTP
 *   Date header, the UtcTime of its events, and the window a UsernameToken's Created must fall in.
 * - `authentication`: which credentials its SOAP services take: WS-UsernameToken only (the default, as before),
 *   HTTP Digest only (401 with a challenge otherwise), or either.
 * - `noVideoSources`: GetVideoSources is not implemented (ter:ActionNotSupported).
 * - `events: 'basic-notification'`: no PullPoint (CreatePullPointSubscription is ter:ActionNotSupported); events
 *   only by Basic Notification, posted to the consumer a Subscribe named. Subscribe works in either mode.
 * - `initializedLineCrossing`: a new subscription also receives `LineDetector/Crossed` with ObjectId 0 as an
 *   `Initialized` message, as cameras do (Home Assistant's onvif test data has one).
 */
export interface FirmwareQuirks {
  readonly refuseUnauthenticatedClock?: boolean;
  readonly clockSkewMs?: number;
  readonly authentication?: 'ws-username-token' | 'http-digest' | 'either';
  readonly noVideoSources?: boolean;
  readonly events?: 'pull-point' | 'basic-notification';
  readonly initializedLineCrossing?: boolean;
}

/** Thrown by the credential check where the camera wants HTTP Digest: answered 401 with a challenge. */
export class HttpUnauthorized extends Error {
  constructor(readonly stale: boolean) {
    super('HTTP Digest credentials required');
  }
}

/** The firmware's longest subscription (`maxSubscriptionSeconds`), as for PullPoints. */
function capped(cam: CameraContext, requested: Date, now: Date): Date {
  const limit = cam.maxSubscriptionMs;
  return limit === undefined ? requested : new Date(Math.min(requested.getTime(), now.getTime() + limit));
}

/** The most a Notify post may take before the camera gives up on the consumer. */
const notifyTimeoutMs = 5_000;

interface BasicSubscription {
  readonly id: string;
  readonly consumer: string;
  terminationTime: Date;
}

/**
 * Basic Notification [WS-BaseNotification 4.2; ONVIF Core 9.2]: subscriptions with a consumer address, to which
 * the camera POSTs a SOAP Notify for each event, starting with the current state of every property. Their
 * subscription managers share the PullPoints' path (`/onvif/subscription/<id>`) for Renew and Unsubscribe.
 */
export class BasicNotifications {
  readonly #subscriptions = new Map<string, BasicSubscription>();
  readonly #now: () => Date;
  /** Status codes the consumers answered, in order (0: no answer). */
  readonly statuses: number[] = [];

  constructor(now: () => Date) {
    this.#now = now;
  }

  get size(): number {
    this.#prune();
    return this.#subscriptions.size;
  }

  /** The consumer addresses of the live subscriptions. */
  get consumers(): string[] {
    this.#prune();
    return [...this.#subscriptions.values()].map((subscription) => subscription.consumer);
  }

  has(id: string | undefined): boolean {
    return id !== undefined && this.#subscriptions.has(id);
  }

  clear(): void {
    this.#subscriptions.clear();
  }

  /** The handlers this knob adds: Subscribe on the event service, Renew and Unsubscribe on its managers. */
  handler(service: ServiceName, op: XmlElement, subscriptionId: string | undefined): Handler | undefined {
    if (service === 'events' && op.name === 'Subscribe' && op.ns === NS.wsnt)
      return (request, cam) => this.#subscribe(request, cam);
    if (service !== 'subscription' || !this.has(subscriptionId)) return undefined;
    const subscription = this.#subscriptions.get(subscriptionId as string) as BasicSubscription;
    if (op.name === 'Renew')
      return (request, cam) => {
        const now = cam.now();
        const requested = childText(request, 'TerminationTime') || 'PT60S';
        const terminationTime = parseTerminationTime(requested, now);
        if (terminationTime === undefined || terminationTime.getTime() <= now.getTime())
          throw faults.invalidArgVal(`TerminationTime ${requested} is not acceptable`);
        subscription.terminationTime = capped(cam, terminationTime, now);
        cam.renewed();
        return (
          '<wsnt:RenewResponse>' +
          `<wsnt:TerminationTime>${isoTime(subscription.terminationTime)}</wsnt:TerminationTime>` +
          `<wsnt:CurrentTime>${isoTime(now)}</wsnt:CurrentTime>` +
          '</wsnt:RenewResponse>'
        );
      };
    if (op.name === 'Unsubscribe')
      return () => {
        this.#subscriptions.delete(subscription.id);
        return '<wsnt:UnsubscribeResponse/>';
      };
    return undefined;
  }

  #subscribe(op: XmlElement, cam: CameraContext): string {
    const consumer = childText(child(op, 'ConsumerReference'), 'Address');
    if (consumer === undefined || !/^https?:\/\//.test(consumer))
      throw faults.invalidArgVal('ConsumerReference has no http address');
    const now = cam.now();
    const requested = childText(op, 'InitialTerminationTime') || 'PT60S';
    const terminationTime = parseTerminationTime(requested, now);
    if (terminationTime === undefined || terminationTime.getTime() <= now.getTime())
      throw faults.invalidArgVal(`InitialTerminationTime ${requested} is not acceptable`);
    const subscription: BasicSubscription = {
      id: randomUUID(),
      consumer,
      terminationTime: capped(cam, terminationTime, now),
    };
    this.#subscriptions.set(subscription.id, subscription);
    // After the answer has gone out, as cameras do: the current state of every property first.
    const address = cam.subscriptionUrl(subscription.id);
    const initial = cam.initialState();
    setTimeout(() => {
      const messages = initial.map((message) => notificationXml(message, address, cam.serviceUrl('events')));
      void this.#post(subscription, messages);
    }, 20).unref();
    return (
      '<wsnt:SubscribeResponse>' +
      `<wsnt:SubscriptionReference><wsa:Address>${escapeXml(address)}</wsa:Address></wsnt:SubscriptionReference>` +
      `<wsnt:CurrentTime>${isoTime(now)}</wsnt:CurrentTime>` +
      `<wsnt:TerminationTime>${isoTime(subscription.terminationTime)}</wsnt:TerminationTime>` +
      '</wsnt:SubscribeResponse>'
    );
  }

  /** An event to every live subscription; returns how many it went to. */
  publish(notification: Notification, cam: CameraContext): number {
    this.#prune();
    for (const subscription of this.#subscriptions.values()) {
      const xml = notificationXml(
        notification,
        cam.subscriptionUrl(subscription.id),
        cam.serviceUrl('events'),
      );
      void this.#post(subscription, [xml]);
    }
    return this.#subscriptions.size;
  }

  /**
   * Posts these NotificationMessage elements as they are (real payloads from public sources, replayed) in one Notify
   * to every live subscription; resolves with the consumers' HTTP statuses.
   */
  async publishRaw(messages: readonly string[]): Promise<number[]> {
    this.#prune();
    return Promise.all(
      [...this.#subscriptions.values()].map((subscription) => this.#post(subscription, messages)),
    );
  }

  #post(subscription: BasicSubscription, messages: readonly string[]): Promise<number> {
    const body = envelope(`<wsnt:Notify>${messages.join('')}</wsnt:Notify>`);
    return new Promise((resolve) => {
      const settle = (status: number) => {
        this.statuses.push(status);
        resolve(status);
      };
      const outgoing = request(
        subscription.consumer,
        {
          method: 'POST',
          timeout: notifyTimeoutMs,
          headers: {
            'Content-Type': 'application/soap+xml; charset=utf-8',
            'Content-Length': Buffer.byteLength(body),
          },
        },
        (response) => {
          response.resume();
          response.on('end', () => settle(response.statusCode ?? 0));
        },
      );
      outgoing.on('timeout', () => outgoing.destroy());
      outgoing.on('error', () => settle(0));
      outgoing.end(body);
    });
  }

  #prune(): void {
    const now = this.#now().getTime();
    for (const [id, subscription] of this.#subscriptions)
      if (subscription.terminationTime.getTime() <= now) this.#subscriptions.delete(id);
  }
}

/** The operations a quirk takes away: answered as firmware that lacks them answers. */
export function refusedByQuirks(quirks: FirmwareQuirks, service: ServiceName, op: XmlElement): void {
  const missing =
    (quirks.noVideoSources === true && service === 'media' && op.name === 'GetVideoSources') ||
    (quirks.events === 'basic-notification' &&
      service === 'events' &&
      op.name === 'CreatePullPointSubscription');
  // What firmware answers for an operation it lacks (ONVIF Core 5.11.2.2), without naming the operation.
  if (missing)
    throw new SoapFault({
      code: 'Receiver',
      subcodes: ['ter:ActionNotSupported'],
      reason: 'Optional Action Not Implemented',
    });
}
