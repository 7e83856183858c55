import type { Severity } from './incident.ts';

/** What an event raises: the incident's category, severity and title, and how repeats and clears fold into it. */
export interface RuleDescription {
  /** Normalized event type, e.g. door.forced_open. */
  readonly event: string;
  readonly category: string;
  readonly severity: Severity;
  readonly title: string;
  /** The same device raising the same event within this window adds to the open incident instead of a new one. */
  readonly dedupeSeconds: number;
  /** An event of the same device that resolves the open incident by itself (device.online clears device.offline). */
  readonly clearedBy?: string;
}
