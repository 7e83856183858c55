/**
 * Who an incident is sent to and how long each stage of its handling may take before it escalates, as the config
 * file describes them (config/schema.ts checks, at compile time, that its schema is these field for field).
 */

/** Which categories leave the usual grid-worker route. */
export interface RoutingDescription {
  /** Sent to the grid worker and to the community and street centres at once. */
  readonly emergencyCategories: string[];
  /** Sent to the integrators who maintain the area, not to the grid worker. */
  readonly deviceHealthCategories: string[];
}

/** The deadlines of one category's stages, in minutes. */
export interface StageDeadlinesDescription {
  /** From dispatch (or escalation) to acceptance. */
  readonly acceptMinutes: number;
  /** From acceptance to arrival on site. */
  readonly arriveMinutes: number;
  /** From creation to resolution. */
  readonly resolveMinutes: number;
}

/** Every category's deadlines: its own, or the default. */
export interface DeadlinesDescription {
  readonly default: StageDeadlinesDescription;
  readonly categories: Record<string, StageDeadlinesDescription>;
}
