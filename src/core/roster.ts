/**
 * Who is on duty when: at a grid, its workers; at a centre (a community, street or district), its duty officers;
 * in shifts on some weekdays, from one time to another.
 */
export interface RosterDescription {
  /** The grid's or the centre's node id. */
  readonly grid: string;
  readonly shifts: ShiftDescription[];
}

export interface ShiftDescription {
  /** Grid workers on duty during this shift. */
  readonly users: string[];
  /** ISO weekdays (1 = Monday … 7 = Sunday) the shift starts on; every day when left out. */
  readonly days?: number[];
  /** Start, HH:MM local time of hub.timezone. */
  readonly from: string;
  /** End, HH:MM local time; earlier than from for a shift across midnight; equal to from for all day. */
  readonly to: string;
}
