import { collectDefaultMetrics, Registry } from 'prom-client';

/** Where the process's registry is kept: on globalThis, so that modules evaluated again (vitest) find it too. */
const key = Symbol.for('gridhub.processMetrics');
type Holder = { [key]?: Registry };

/**
 * The process and runtime metrics a Prometheus user expects of a Node service (prom-client's defaults:
 * process_cpu_seconds_total, process_resident_memory_bytes, nodejs_heap_size_used_bytes,
 * nodejs_eventloop_lag_seconds, nodejs_gc_duration_seconds, …), in one registry per process, made on first use
 * and served with every hub's own metrics.
 *
 * Once per process, not per hub: collectDefaultMetrics starts a monitorEventLoopDelay and a GC
 * PerformanceObserver that nothing can stop, and their names would collide in one registry. Several hubs in one
 * process (the tests, a benchmark) each adding their own would leak one monitor and one observer per hub; and
 * the values are the process's anyway, whichever hub serves them.
 */
export function processMetrics(): Registry {
  const holder = globalThis as Holder;
  let registry = holder[key];
  if (registry === undefined) {
    registry = new Registry();
    collectDefaultMetrics({ register: registry });
    holder[key] = registry;
  }
  return registry;
}
