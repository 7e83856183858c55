import { randomUUID } from 'node:crypto';
import { escapeXml, isoTime } from './soap.ts';

/**
 * The camera's events: the topics it produces (data, one row each), the notification messages it writes, and the
 * PullPoint subscriptions that queue them (ONVIF Core 9.1 "Real-time Pull-Point Notification Interface").
 */

/** One ONVIF event topic as the camera describes it in GetEventProperties and fills it in notifications. */
export interface TopicDefinition {
  /** Topic path under tns1, e.g. `RuleEngine/CellMotionDetector/Motion`. */
  readonly path: string;
  /** A property (a state with Initialized/Changed/Deleted) or a plain event (ONVIF Core 9.2.3 "IsProperty"). */
  readonly isProperty: boolean;
  /** Source SimpleItems: name, type and the value this camera puts there. */
  readonly source: ReadonlyArray<{ readonly name: string; readonly type: string; readonly value: string }>;
  /** The one Data SimpleItem. */
  readonly data: { readonly name: string; readonly type: string };
}

const VIDEO_SOURCE = 'VideoSource_1';
const VIDEO_SOURCE_CONFIGURATION = 'VideoSourceConfig_1';
const ANALYTICS_CONFIGURATION = 'VideoAnalyticsConfig_1';

const ruleSource = (rule: string): TopicDefinition['source'] => [
  { name: 'VideoSourceConfigurationToken', type: 'tt:ReferenceToken', value: VIDEO_SOURCE_CONFIGURATION },
  { name: 'VideoAnalyticsConfigurationToken', type: 'tt:ReferenceToken', value: ANALYTICS_CONFIGURATION },
  { name: 'Rule', type: 'xs:string', value: rule },
];

/** Topics of ONVIF's topic namespace that this camera produces (ONVIF Core Annex / Analytics 5.x). */
export const TOPICS = {
  motionAlarm: {
    path: 'VideoSource/MotionAlarm',
    isProperty: true,
    source: [{ name: 'Source', type: 'tt:ReferenceToken', value: VIDEO_SOURCE }],
    data: { name: 'State', type: 'xs:boolean' },
  },
  cellMotion: {
    path: 'RuleEngine/CellMotionDetector/Motion',
    isProperty: true,
    source: ruleSource('MyMotionDetectorRule'),
    data: { name: 'IsMotion', type: 'xs:boolean' },
  },
  tamper: {
    path: 'VideoSource/GlobalSceneChange/ImagingService',
    isProperty: true,
    source: [{ name: 'Source', type: 'tt:ReferenceToken', value: VIDEO_SOURCE }],
    data: { name: 'State', type: 'xs:boolean' },
  },
  lineCrossed: {
    path: 'RuleEngine/LineDetector/Crossed',
    isProperty: false,
    source: ruleSource('MyLineDetectorRule'),
    data: { name: 'ObjectId', type: 'xs:integer' },
  },
  fieldInside: {
    path: 'RuleEngine/FieldDetector/ObjectsInside',
    isProperty: true,
    source: ruleSource('MyFieldDetectorRule'),
    data: { name: 'IsInside', type: 'xs:boolean' },
  },
  // A camera's alarm input wired to a door contact. A property (ONVIF Device IO 8.x: "Device/Trigger/DigitalInput"
  // with InputToken and LogicalState), so every new subscription gets an Initialized message with its state.
  digitalInput: {
    path: 'Device/Trigger/DigitalInput',
    isProperty: true,
    source: [{ name: 'InputToken', type: 'tt:ReferenceToken', value: 'DI_0' }],
    data: { name: 'LogicalState', type: 'xs:boolean' },
  },
  // The analytics tamper rule (ONVIF Analytics, tamper detector): covered, sprayed, defocused or turned away.
  tamperDetector: {
    path: 'RuleEngine/TamperDetector/Tamper',
    isProperty: true,
    source: ruleSource('MyTamperDetectorRule'),
    data: { name: 'IsTamper', type: 'xs:boolean' },
  },
} as const satisfies Record<string, TopicDefinition>;

export type TopicKey = keyof typeof TOPICS;

/** The properties, whose current state a new subscription receives as `Initialized` messages. */
export const PROPERTY_TOPICS: readonly TopicKey[] = (Object.keys(TOPICS) as TopicKey[]).filter(
  (key) => TOPICS[key].isProperty,
);

export interface Notification {
  readonly topic: TopicKey;
  readonly utcTime: Date;
  /** Absent for plain events; properties carry Initialized (current state on subscribe) or Changed. */
  readonly operation?: 'Initialized' | 'Changed' | 'Deleted';
  readonly value: string;
}

const TOPIC_DIALECT = 'http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet';

/** One wsnt:NotificationMessage (WS-BaseNotification 3.2; ONVIF Core 9.2.1 tt:Message). */
export function notificationXml(
  notification: Notification,
  subscriptionAddress: string,
  producer: string,
): string {
  const topic = TOPICS[notification.topic];
  const operation =
    notification.operation === undefined ? '' : ` PropertyOperation="${notification.operation}"`;
  const source = topic.source
    .map((item) => `<tt:SimpleItem Name="${item.name}" Value="${escapeXml(item.value)}"/>`)
    .join('');
  return (
    '<wsnt:NotificationMessage>' +
    `<wsnt:SubscriptionReference><wsa:Address>${escapeXml(subscriptionAddress)}</wsa:Address></wsnt:SubscriptionReference>` +
    `<wsnt:Topic Dialect="${TOPIC_DIALECT}">tns1:${topic.path}</wsnt:Topic>` +
    `<wsnt:ProducerReference><wsa:Address>${escapeXml(producer)}</wsa:Address></wsnt:ProducerReference>` +
    '<wsnt:Message>' +
    `<tt:Message UtcTime="${isoTime(notification.utcTime)}"${operation}>` +
    `<tt:Source>${source}</tt:Source>` +
    `<tt:Data><tt:SimpleItem Name="${topic.data.name}" Value="${escapeXml(notification.value)}"/></tt:Data>` +
    '</tt:Message>' +
    '</wsnt:Message>' +
    '</wsnt:NotificationMessage>'
  );
}

/** The wstop:TopicSet of GetEventProperties: a tree of topics, each leaf with its message description. */
export function topicSetXml(): string {
  interface Node {
    readonly children: Map<string, Node>;
    definition?: TopicDefinition;
  }
  const root: Node = { children: new Map() };
  for (const definition of Object.values(TOPICS) as TopicDefinition[]) {
    let node = root;
    for (const part of definition.path.split('/')) {
      let next = node.children.get(part);
      if (next === undefined) {
        next = { children: new Map() };
        node.children.set(part, next);
      }
      node = next;
    }
    node.definition = definition;
  }
  const describe = (d: TopicDefinition): string =>
    `<tt:MessageDescription IsProperty="${d.isProperty}">` +
    `<tt:Source>${d.source.map((s) => `<tt:SimpleItemDescription Name="${s.name}" Type="${s.type}"/>`).join('')}</tt:Source>` +
    `<tt:Data><tt:SimpleItemDescription Name="${d.data.name}" Type="${d.data.type}"/></tt:Data>` +
    '</tt:MessageDescription>';
  const write = (name: string, node: Node, top: boolean): string => {
    const tag = top ? `tns1:${name}` : name;
    const topicAttr = node.definition === undefined ? '' : ' wstop:topic="true"';
    const inner =
      (node.definition === undefined ? '' : describe(node.definition)) +
      [...node.children].map(([childName, childNode]) => write(childName, childNode, false)).join('');
    return `<${tag}${topicAttr}>${inner}</${tag}>`;
  };
  return `<wstop:TopicSet>${[...root.children].map(([name, node]) => write(name, node, true)).join('')}</wstop:TopicSet>`;
}

// ---------------------------------------------------------------------------------------------------------------
// PullPoint subscriptions

/** At most this many undelivered messages per subscription; the oldest go first, as in a camera's ring buffer. */
const QUEUE_LIMIT = 1000;

interface Waiter {
  readonly limit: number;
  readonly resolve: (messages: Notification[] | undefined) => void;
  readonly timer: NodeJS.Timeout;
}

export interface Subscription {
  readonly id: string;
  readonly createdAt: Date;
  terminationTime: Date;
  readonly queue: Notification[];
  /** The topics this subscription asked for; undefined takes everything. */
  readonly filter?: (topic: TopicKey) => boolean;
  waiter?: Waiter;
  /** A wake-up of the waiting pull is scheduled. */
  waking?: boolean;
}

/**
 * The camera's live PullPoint subscriptions. An expired one is removed the next time anything looks at the set,
 * which is how a client sees it: PullMessages or Renew after the termination time finds nothing.
 */
export class PullPoints {
  readonly #subscriptions = new Map<string, Subscription>();
  readonly #now: () => Date;

  constructor(now: () => Date) {
    this.#now = now;
  }

  /** Live subscriptions (expired ones are pruned first). */
  get size(): number {
    this.#prune();
    return this.#subscriptions.size;
  }

  /** Subscriptions with a PullMessages waiting for something to arrive. */
  get waiting(): number {
    let count = 0;
    for (const subscription of this.#subscriptions.values())
      if (subscription.waiter !== undefined) count += 1;
    return count;
  }

  create(
    terminationTime: Date,
    initial: readonly Notification[],
    filter?: (topic: TopicKey) => boolean,
  ): Subscription {
    this.#prune();
    const subscription: Subscription = {
      id: randomUUID(),
      createdAt: this.#now(),
      terminationTime,
      queue: [],
      ...(filter === undefined ? {} : { filter }),
    };
    this.#subscriptions.set(subscription.id, subscription);
    for (const notification of initial) this.enqueue(subscription, notification);
    return subscription;
  }

  get(id: string): Subscription | undefined {
    this.#prune();
    return this.#subscriptions.get(id);
  }

  delete(id: string): boolean {
    const subscription = this.#subscriptions.get(id);
    if (subscription === undefined) return false;
    this.#release(subscription, []);
    return this.#subscriptions.delete(id);
  }

  /** Queues a message on every live subscription that wants it and wakes waiting pulls; returns how many got it. */
  publish(notification: Notification): number {
    this.#prune();
    let delivered = 0;
    for (const subscription of this.#subscriptions.values()) {
      if (this.enqueue(subscription, notification)) delivered += 1;
    }
    return delivered;
  }

  /** Queues a message on one subscription, if its filter takes the topic; wakes a waiting pull. */
  enqueue(subscription: Subscription, notification: Notification): boolean {
    if (subscription.filter !== undefined && !subscription.filter(notification.topic)) return false;
    subscription.queue.push(notification);
    if (subscription.queue.length > QUEUE_LIMIT) subscription.queue.shift();
    if (subscription.waiter !== undefined && !subscription.waking) {
      // Wake the pull once the current burst is queued, so messages raised together are answered together.
      subscription.waking = true;
      queueMicrotask(() => {
        subscription.waking = false;
        const waiter = subscription.waiter;
        if (waiter !== undefined && subscription.queue.length > 0) {
          this.#release(subscription, subscription.queue.splice(0, waiter.limit));
        }
      });
    }
    return true;
  }

  /**
   * PullMessages: what is queued now (up to `limit`), else waits up to `timeoutMs` for something to arrive.
   * Resolves undefined when the subscription vanished while waiting (dropped, or the camera went down).
   * A second pull on the same subscription answers the first one empty, as cameras do.
   */
  pull(subscription: Subscription, timeoutMs: number, limit: number): Promise<Notification[] | undefined> {
    if (subscription.queue.length > 0) return Promise.resolve(subscription.queue.splice(0, limit));
    this.#release(subscription, []);
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.#release(subscription, []), timeoutMs);
      subscription.waiter = { limit, resolve, timer };
    });
  }

  /** Answers every waiting pull empty (their connections are gone): what is queued stays for the next pull. */
  releaseWaiting(): void {
    for (const subscription of this.#subscriptions.values()) this.#release(subscription, []);
  }

  /** Forgets every subscription; pending pulls resolve undefined (their connection is about to go). */
  clear(): void {
    for (const subscription of this.#subscriptions.values()) this.#release(subscription, undefined);
    this.#subscriptions.clear();
  }

  #release(subscription: Subscription, messages: Notification[] | undefined): void {
    const waiter = subscription.waiter;
    if (waiter === undefined) return;
    subscription.waiter = undefined;
    clearTimeout(waiter.timer);
    waiter.resolve(messages);
  }

  #prune(): void {
    const now = this.#now().getTime();
    for (const [id, subscription] of this.#subscriptions) {
      // A pending pull keeps its subscription until it is answered; the next request finds it gone.
      if (subscription.terminationTime.getTime() <= now && subscription.waiter === undefined) {
        this.#subscriptions.delete(id);
      }
    }
  }
}
