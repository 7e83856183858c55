import type { NotificationChannel } from './channel.ts';
import type { PendingAsk } from './pending-asks.ts';
import { BundleWindow, type Policy } from './policy.ts';

/** Messages held for one person on one channel during a storm, leaving as one when the window has passed. */
export interface Bundle {
  readonly windowKey: string;
  readonly channel: NotificationChannel;
  readonly asks: PendingAsk[];
  readonly flushAt: number;
}

/**
 * Bundling during storms, per person and channel (a policy's `bundle`): each pair's window of messages that left,
 * and the bundle of messages held past its limit until the window has passed.
 */
export class Bundles {
  /** Ms one policy second lasts. */
  readonly #secondMs: number;
  readonly #windows = new Map<string, BundleWindow>();
  readonly #bundles = new Map<string, Bundle>();

  constructor(secondMs: number) {
    this.#secondMs = secondMs;
  }

  /** The person's window on the channel, made by the policy the first time. */
  window(userId: string, channelId: string, policy: Policy): BundleWindow {
    const key = windowKey(userId, channelId);
    let window = this.#windows.get(key);
    const bundle = policy.bundle;
    if (window === undefined) {
      window = new BundleWindow(
        bundle?.maxMessages ?? Number.POSITIVE_INFINITY,
        (bundle?.windowSeconds ?? 0) * this.#secondMs,
      );
      this.#windows.set(key, window);
    }
    return window;
  }

  /** Held in the person's bundle on the channel; true when that opened the bundle (it leaves at a time of its own). */
  hold(ask: PendingAsk, channel: NotificationChannel, policy: Policy, now: number): boolean {
    const key = windowKey(ask.userId, channel.id);
    let bundle = this.#bundles.get(key);
    const opened = bundle === undefined;
    if (bundle === undefined) {
      bundle = {
        windowKey: key,
        channel,
        asks: [],
        flushAt: now + (policy.bundle?.windowSeconds ?? 0) * this.#secondMs,
      };
      this.#bundles.set(key, bundle);
    }
    bundle.asks.push(ask);
    return opened;
  }

  /** When the earliest bundle leaves (epoch ms), if one is held. */
  nextFlushAt(): number | undefined {
    const times = [...this.#bundles.values()].map((bundle) => bundle.flushAt);
    return times.length === 0 ? undefined : Math.min(...times);
  }

  /** The bundles whose window has passed by `now`, no longer held. */
  takeDue(now: number): Bundle[] {
    const due = [...this.#bundles.values()].filter((bundle) => bundle.flushAt <= now);
    for (const bundle of due) this.#bundles.delete(bundle.windowKey);
    return due;
  }

  clear(): void {
    this.#bundles.clear();
    this.#windows.clear();
  }
}

function windowKey(userId: string, channelId: string): string {
  return `${userId}|${channelId}`;
}
