import type { Logger } from '../../observability/logger.ts';
import type { MetricsRegistry } from '../../observability/metrics-registry.ts';
import type { Store } from '../../store/store.ts';

/** What a channel may use: the store (push subscriptions, cached tokens), logs and metrics. */
export interface ChannelDependencies {
  readonly store: Store;
  readonly logger: Logger;
  readonly metrics: MetricsRegistry;
}
