import { describe, expect, it } from 'vitest';
import { SubscriberWatch, type SubscriptionStore, topicMatches } from '../../src/ingest/subscriber-watch.ts';

describe('topicMatches', () => {
  it('matches MQTT filters with + and # wildcards, level by level', () => {
    expect(topicMatches('gridhub/feed', 'gridhub/feed')).toBe(true);
    expect(topicMatches('gridhub/+/feed', 'gridhub/incidents/feed')).toBe(true);
    expect(topicMatches('gridhub/+', 'gridhub/incidents/feed')).toBe(false);
    expect(topicMatches('gridhub/#', 'gridhub/incidents/feed')).toBe(true);
    expect(topicMatches('#', 'gridhub')).toBe(true);
    expect(topicMatches('gridhub/incidents/feed/+', 'gridhub/incidents/feed')).toBe(false);
    expect(topicMatches('other/#', 'gridhub/incidents/feed')).toBe(false);
  });
});

describe('SubscriberWatch', () => {
  const topic = 'gridhub/incidents/feed';
  /** A broker store whose persistent subscriptions the test sets. */
  function storeWith(subscribers: { count: number }): SubscriptionStore {
    return { subscriptionsByTopic: async () => Array.from({ length: subscribers.count }) };
  }
  const settle = () => new Promise((resolve) => setImmediate(resolve));

  it('counts clean sessions as they subscribe and go, and asks the store about persistent ones', async () => {
    const persistent = { count: 0 };
    const watch = new SubscriberWatch(() => storeWith(persistent));
    // First question: yes until the store answers.
    expect(watch.has(topic)).toBe(true);
    await settle();
    expect(watch.has(topic)).toBe(false);

    const dashboard = { clean: true };
    watch.subscribed(dashboard, ['gridhub/+/feed', 'gridhub/#']);
    expect(watch.has(topic)).toBe(true);
    watch.unsubscribed(dashboard, ['gridhub/#']);
    expect(watch.has(topic)).toBe(true);
    watch.unsubscribed(dashboard, undefined);
    expect(watch.has(topic)).toBe(false);

    const away = { clean: false };
    persistent.count = 1;
    watch.subscribed(away, [topic]);
    expect(watch.has(topic)).toBe(true);
    persistent.count = 0;
    watch.unsubscribed(away, [topic]);
    await settle();
    expect(watch.has(topic)).toBe(false);
  });

  it('answers yes while the broker has no store to ask', () => {
    const watch = new SubscriberWatch(() => undefined);
    expect(watch.has(topic)).toBe(true);
  });
});
