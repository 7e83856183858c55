import type { Logger } from '../../observability/logger.ts';
import type { MetricsRegistry } from '../../observability/metrics-registry.ts';
import type { Store } from '../../store/store.ts';
import type { ChannelKind, NotificationChannel } from '../channel.ts';
import type { ChannelConfig } from './channel-schema.ts';

/** What a channel may use: the store (push subscriptions, cached tokens), logs and metrics. */
export interface ChannelDependencies {
  readonly store: Store;
  readonly logger: Logger;
  readonly metrics: MetricsRegistry;
}

export type ChannelFactory = (
  config: ChannelConfig,
  dependencies: ChannelDependencies,
) => NotificationChannel;

/** Each kind's module, by kind: a new provider is a module and a line here. */
export const channelFactories: Partial<Record<ChannelKind, ChannelFactory>> = {};

/** The configured channels, each made by its kind's module. */
export function createChannels(
  configs: readonly ChannelConfig[],
  dependencies: ChannelDependencies,
): NotificationChannel[] {
  return configs.map((config) => {
    const factory = channelFactories[config.kind];
    if (factory === undefined) throw new Error(`no module for notification channel kind ${config.kind}`);
    return factory(config, dependencies);
  });
}
