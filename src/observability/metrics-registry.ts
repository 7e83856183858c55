import {
  Counter,
  type CounterConfiguration,
  Gauge,
  type GaugeConfiguration,
  Histogram,
  type HistogramConfiguration,
  type Metric,
  Registry,
} from 'prom-client';
import { processMetrics } from './process-metrics.ts';

/** A counter as a module declares it: prom-client's configuration, and the label values to show at zero. */
export type CounterDeclaration<T extends string> = Omit<CounterConfiguration<T>, 'registers'> & {
  /** For each label, its values: every combination of them is shown at zero from the start. */
  readonly shownAtZero?: { readonly [K in T]: readonly string[] };
};

/** Every combination of the labels' values, as label objects (the cross product, in the labels' order). */
function labelSets<T extends string>(
  names: readonly T[],
  values: { readonly [K in T]: readonly string[] },
): Partial<Record<T, string>>[] {
  return names.reduce<Partial<Record<T, string>>[]>(
    (sets, name) => sets.flatMap((set) => values[name].map((value) => ({ ...set, [name]: value }))),
    [{}],
  );
}

/**
 * Everything `GET /metrics` shows of one hub: a registry per hub (not prom-client's global one), so several hubs in
 * one process (tests, benchmarks) never share counters. Each module declares its own metrics on it (see
 * {@link declareMetrics}); the process and runtime metrics every hub in the process shares are served with them.
 */
export class MetricsRegistry {
  readonly #registry = new Registry();

  constructor() {
    // Started here, once per process, so the event loop's lag is watched from the first hub's start.
    processMetrics();
  }

  /**
   * A counter, or the one of that name already on this registry. Prefer {@link declareMetrics}, which also makes
   * its label sets once.
   */
  counter<T extends string = never>(config: CounterDeclaration<T>): Counter<T> {
    const existing = this.#registry.getSingleMetric(config.name) as Counter<T> | undefined;
    if (existing !== undefined) return existing;
    const { shownAtZero, ...counted } = config;
    const counter = new Counter({ ...counted, registers: [this.#registry] });
    // Every label set named shows from the start, at zero, so a dashboard can tell "none" from "not reported".
    if (shownAtZero !== undefined) {
      for (const labels of labelSets(config.labelNames ?? [], shownAtZero)) counter.labels(labels).inc(0);
    }
    return counter;
  }

  gauge<T extends string = never>(config: Omit<GaugeConfiguration<T>, 'registers'>): Gauge<T> {
    return (
      (this.#registry.getSingleMetric(config.name) as Gauge<T> | undefined) ??
      new Gauge({ ...config, registers: [this.#registry] })
    );
  }

  histogram<T extends string = never>(config: Omit<HistogramConfiguration<T>, 'registers'>): Histogram<T> {
    return (
      (this.#registry.getSingleMetric(config.name) as Histogram<T> | undefined) ??
      new Histogram({ ...config, registers: [this.#registry] })
    );
  }

  /** One metric of this hub's by name (tests read single values through it). */
  metric(name: string): Metric | undefined {
    return this.#registry.getSingleMetric(name);
  }

  /**
   * The exposition: this hub's metrics, then the process's, as one text. Not Registry.merge: a merged registry
   * holds the metrics registered when it was made (modules declare theirs as their components are built, some
   * late), and one merged at every scrape is work for nothing.
   */
  async text(): Promise<string> {
    const [own, process] = await Promise.all([this.#registry.metrics(), processMetrics().metrics()]);
    return `${own}\n${process}`;
  }

  get contentType(): string {
    return this.#registry.contentType;
  }
}

/**
 * How a module declares its metrics: `declare` makes them on a registry (names, help, labels, the label sets shown
 * at zero from the start, the label children bound ahead for the hot path) and returns them as one object. The
 * function returned makes them once per registry and hands every later caller the same object, so each component
 * built on a hub's registry asks for its module's metrics itself, and two components counting the same thing (the
 * brokers' store failures, a dispatcher built again on a restart) share one counter.
 */
export function declareMetrics<T>(declare: (metrics: MetricsRegistry) => T): (metrics: MetricsRegistry) => T {
  const made = new WeakMap<MetricsRegistry, T>();
  return (metrics) => {
    let declared = made.get(metrics);
    if (declared === undefined) {
      declared = declare(metrics);
      made.set(metrics, declared);
    }
    return declared;
  };
}
