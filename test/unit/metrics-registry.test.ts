import { describe, expect, it } from 'vitest';
import { declareMetrics, MetricsRegistry } from '../../src/observability/metrics-registry.ts';
import { processMetrics } from '../../src/observability/process-metrics.ts';

const widgetMetrics = declareMetrics((metrics) => {
  const refused = metrics.counter({
    name: 'test_widgets_refused_total',
    help: 'Widgets refused, by reason.',
    labelNames: ['reason'] as const,
  });
  for (const reason of ['bent', 'late']) refused.labels(reason).inc(0);
  return { refused, bent: refused.labels('bent') };
});

describe('a metrics registry', () => {
  it("declares a module's metrics once per registry, and hands every caller the same ones", async () => {
    const metrics = new MetricsRegistry();
    const first = widgetMetrics(metrics);
    const second = widgetMetrics(metrics);
    expect(second).toBe(first);
    first.bent.inc();
    second.refused.labels('bent').inc();
    expect(await metrics.text()).toContain('test_widgets_refused_total{reason="bent"} 2');
    expect(await metrics.text()).toContain('test_widgets_refused_total{reason="late"} 0');
  });

  it("keeps each hub's counters its own in one process", async () => {
    const one = new MetricsRegistry();
    const other = new MetricsRegistry();
    widgetMetrics(one).bent.inc(3);
    expect(widgetMetrics(other)).not.toBe(widgetMetrics(one));
    expect(await other.text()).toContain('test_widgets_refused_total{reason="bent"} 0');
  });

  it('serves the process metrics of one registry per process with every hub', async () => {
    const process = processMetrics();
    const hubs = [new MetricsRegistry(), new MetricsRegistry()];
    expect(processMetrics()).toBe(process);
    for (const metrics of hubs) {
      const text = await metrics.text();
      expect(text.match(/^# TYPE process_cpu_seconds_total counter$/gm)).toHaveLength(1);
      expect(text.match(/^# TYPE nodejs_eventloop_lag_seconds gauge$/gm)).toHaveLength(1);
      expect(text).toMatch(/^nodejs_heap_size_used_bytes \d/m);
    }
  });
});
