import type { RosterConfig } from '../config/schema.ts';
import type { AuditEntry } from '../core/audit.ts';
import type { Incident } from '../core/incident.ts';
import type { DeadLetter } from '../core/refusals.ts';

export interface IncidentQuery {
  /** Only incidents whose chain contains one of these nodes. Undefined means every incident. */
  readonly scopeNodeIds?: readonly string[];
  /** Newest first; at most this many. */
  readonly limit: number;
  /** Only incidents created before the one with this id (keyset pagination). */
  readonly before?: string;
  /** Only incidents this accepts (state, category, time filters; who may see it). */
  readonly filter?: (incident: Incident) => boolean;
  /** Stop scanning at incidents created before this id (a time bound: ids sort by creation). */
  readonly after?: string;
}

export interface DeadLetterQuery {
  readonly limit: number;
  readonly before?: string;
}

export interface AuditQuery {
  readonly limit: number;
  readonly before?: string;
  /** Only entries about this device or incident. */
  readonly targetId?: string;
}

/**
 * A device's state that changes at run time: its credentials, whether it is disabled or in maintenance and, for a
 * device provisioned over the API, its description. Config devices have a record only once one of these changed.
 */
export interface DeviceRecord {
  readonly id: string;
  /** Null for a device described in the config file. */
  readonly description: import('../config/load.ts').DeviceDescription | null;
  readonly secretDigest: string;
  readonly disabled: boolean;
  /** ISO 8601: until when the device is in maintenance (its events raise no incident); null when it is not. */
  readonly maintenanceUntil: string | null;
  readonly updatedAt: string;
}

export type ComponentState = 'starting' | 'up' | 'down';

/**
 * Where the hub keeps what it accepted. The embedded LMDB store is the default; a Redis store implements the
 * same interface for several hub instances. Writes resolve when the data is durable: the ingest path
 * acknowledges a device message only after that (see ingest/device-ingest.ts).
 */
export interface Store {
  readonly kind: string;
  readonly state: ComponentState;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Writes the incident and, when given, its audit entry in one transaction: a change is never half-written. */
  saveIncident(incident: Incident, audit?: AuditEntry): Promise<void>;
  getIncident(id: string): Promise<Incident | undefined>;
  listIncidents(query: IncidentQuery): Promise<Incident[]>;
  saveDeadLetter(deadLetter: DeadLetter): Promise<void>;
  listDeadLetters(query: DeadLetterQuery): Promise<DeadLetter[]>;
  /** Every incident not yet ended (open or awaiting verification), to rebuild deadlines and dedupe after a restart. */
  listActiveIncidents(): Promise<Incident[]>;
  saveDeviceRecord(record: DeviceRecord): Promise<void>;
  listDeviceRecords(): Promise<DeviceRecord[]>;
  appendAudit(entry: AuditEntry): Promise<void>;
  /**
   * Claims a one-off job (an escalation) for `ttlMs`: true for exactly one caller across every hub sharing the
   * store. A store only one hub can use answers true.
   */
  claim(key: string, ttlMs: number): Promise<boolean>;
  /** Rosters changed through the API; they replace the config's roster of their grid. */
  saveRoster(roster: RosterConfig): Promise<void>;
  listRosters(): Promise<RosterConfig[]>;
  listAudit(query: AuditQuery): Promise<AuditEntry[]>;
}
