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

/** Events of different devices of one grid that join one incident, within a window after it was raised or joined. */
export interface CorrelationDescription {
  /** Names the correlation in audit entries and logs. */
  readonly id: string;
  /** Event types (each with a rule) that join one incident. */
  readonly events: string[];
  readonly windowSeconds: number;
  /** The joined incident is raised to at least this severity (never lowered). */
  readonly severity: Severity;
  /** Replaces the title of an incident once an event joins it. */
  readonly title?: string;
}

/** A recurring window in which events raise no incident, narrowed by event types, rule categories and grids. */
export interface SuppressionDescription {
  /** Names the schedule in logs. */
  readonly id: string;
  readonly events?: string[];
  readonly categories?: string[];
  readonly grids?: string[];
  /** ISO weekdays (1 = Monday … 7 = Sunday) the window starts on; every day when left out. */
  readonly days?: number[];
  /** Start, HH:MM local time of hub.timezone. */
  readonly from: string;
  /** End, HH:MM local time; earlier than from for a window across midnight; equal to from for all day. */
  readonly to: string;
}

/** Alarm-storm control: past this many incidents of one grid within the window, its events join one storm incident. */
export interface FloodDescription {
  /** Incidents one grid may create within the window; 0: no limit. */
  readonly maxIncidents: number;
  /** The sliding window the limit counts over. */
  readonly windowSeconds: number;
}
