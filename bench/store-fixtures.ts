import type { Incident } from '../src/core/incident.ts';

/** An open incident as the store's benchmarks write it again and again: only what its writes touch. */
export function benchIncident(): Incident {
  const now = new Date().toISOString();
  return {
    id: 'inc_bench',
    state: 'dispatched',
    occurrences: 1,
    lastOccurredAt: now,
    updatedAt: now,
  } as Incident;
}
