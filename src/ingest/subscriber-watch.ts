/** What the watch needs of a client: whether its session is clean (its subscriptions live only while connected). */
export interface SubscribingClient {
  readonly clean: boolean;
}

/** What the watch needs of the broker's persistence: every persistent session's subscriptions, connected or away. */
export interface SubscriptionStore {
  subscriptionsByTopic(topic: string): Promise<readonly unknown[]>;
}

/**
 * Which watched topics have a subscriber on the embedded broker: how many clean sessions' filters match each
 * (counted here as they subscribe and go), and whether a persistent session's may (asked of the broker's store,
 * where those live). Errs on the side of yes: a topic's first question answers yes and starts watching it, and a
 * persistent session's new subscription counts as one to every topic until the store says otherwise.
 */
export class SubscriberWatch {
  readonly #store: () => SubscriptionStore | undefined;
  readonly #changed: (() => void) | undefined;
  readonly #topics = new Map<string, { clean: number; persistent: boolean }>();
  /** Clean sessions' granted topic filters, by client. */
  readonly #cleanFilters = new Map<SubscribingClient, Set<string>>();
  /** Counts persistent subscription changes, so an answer from the store that a newer change may outdate is unused. */
  #persistentChanges = 0;

  /**
   * `store`: the broker's persistence once the broker has started. `changed`: `has` may answer differently now (a
   * client subscribed or went, or the store answered).
   */
  constructor(store: () => SubscriptionStore | undefined, changed?: () => void) {
    this.#store = store;
    this.#changed = changed;
  }

  has(topic: string): boolean {
    let watched = this.#topics.get(topic);
    if (watched === undefined) {
      let clean = 0;
      for (const filters of this.#cleanFilters.values())
        for (const filter of filters) if (topicMatches(filter, topic)) clean += 1;
      watched = { clean, persistent: true };
      this.#topics.set(topic, watched);
      this.#recountPersistent();
    }
    return watched.clean > 0 || watched.persistent;
  }

  subscribed(client: SubscribingClient, filters: readonly string[]): void {
    if (!client.clean) {
      this.#persistentChanges += 1;
      for (const watched of this.#topics.values()) watched.persistent = true;
      this.#recountPersistent();
      this.#changed?.();
      return;
    }
    let held = this.#cleanFilters.get(client);
    if (held === undefined) {
      held = new Set();
      this.#cleanFilters.set(client, held);
    }
    for (const filter of filters) {
      if (held.has(filter)) continue;
      held.add(filter);
      for (const [topic, watched] of this.#topics) if (topicMatches(filter, topic)) watched.clean += 1;
    }
    this.#changed?.();
  }

  /** Some of the client's filters went (undefined: all of them, the client is gone). */
  unsubscribed(client: SubscribingClient, filters: readonly string[] | undefined): void {
    if (!client.clean) {
      this.#persistentChanges += 1;
      this.#recountPersistent();
      return;
    }
    const held = this.#cleanFilters.get(client);
    if (held === undefined) return;
    for (const filter of filters ?? [...held]) {
      if (!held.delete(filter)) continue;
      for (const [topic, watched] of this.#topics) if (topicMatches(filter, topic)) watched.clean -= 1;
    }
    if (held.size === 0) this.#cleanFilters.delete(client);
    this.#changed?.();
  }

  clear(): void {
    this.#topics.clear();
    this.#cleanFilters.clear();
  }

  #recountPersistent(): void {
    const store = this.#store();
    if (store === undefined || this.#topics.size === 0) return;
    const changes = this.#persistentChanges;
    for (const [topic, watched] of this.#topics) {
      store.subscriptionsByTopic(topic).then(
        (subscriptions) => {
          if (changes !== this.#persistentChanges) return;
          watched.persistent = subscriptions.length > 0;
          this.#changed?.();
        },
        // Unknown stays yes.
        () => undefined,
      );
    }
  }
}

/** Whether an MQTT topic filter (with + and # wildcards) matches a topic name. */
export function topicMatches(filter: string, topic: string): boolean {
  if (filter === topic) return true;
  const filterLevels = filter.split('/');
  const topicLevels = topic.split('/');
  for (let index = 0; index < filterLevels.length; index++) {
    const level = filterLevels[index];
    if (level === '#') return true;
    if (index >= topicLevels.length) return false;
    if (level !== '+' && level !== topicLevels[index]) return false;
  }
  return filterLevels.length === topicLevels.length;
}
