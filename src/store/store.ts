import type { AuditEntry } from '../core/audit.ts';
import type { ComponentState } from '../core/component.ts';
import type { DeviceDescription } from '../core/device.ts';
import { GridhubError } from '../core/errors.ts';
import type { FeedMessage } from '../core/feed-message.ts';
import type { Incident, RelatedEvent } from '../core/incident.ts';
import type { DeadLetter } from '../core/refusals.ts';
import type { RosterDescription } from '../core/roster.ts';

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

/** A webhook delivery not yet delivered nor given up: its id is the one every attempt carries. */
export interface PendingDelivery {
  readonly id: string;
  readonly webhookId: string;
  readonly message: FeedMessage;
}

/** The webhook deliveries waiting, kept in the store (Store.outbox). */
export interface DeliveryOutbox {
  putDelivery(delivery: PendingDelivery): Promise<void>;
  removeDelivery(id: string): Promise<void>;
  /** Oldest first: delivery ids are time-ordered (by the clock of the run that made each). */
  listDeliveries(): Promise<PendingDelivery[]>;
}

export interface DeadLetterQuery {
  readonly limit: number;
  readonly before?: string;
  /** Only the dead letters this accepts count toward the limit: what the caller may see. */
  readonly filter?: (deadLetter: DeadLetter) => boolean;
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
  readonly description: DeviceDescription | null;
  readonly secretDigest: string;
  readonly disabled: boolean;
  /** ISO 8601: until when the device is in maintenance (its events raise no incident); null when it is not. */
  readonly maintenanceUntil: string | null;
  readonly updatedAt: string;
}

/**
 * A login session: what a person's JWTs belong to. It ends at `expiresAt` whatever is refreshed (an absolute
 * lifetime, a shift), or earlier when revoked (logout, the user disabled or removed, their password reset).
 */
export interface SessionRecord {
  /** Random, 128 bits, base64url: carried in the JWT as `sid`. */
  readonly id: string;
  readonly userId: string;
  readonly createdAt: string;
  readonly expiresAt: string;
  /** When it was ended before its time, and why; null while it lasts. */
  readonly revokedAt: string | null;
  readonly revokedReason: string | null;
}

/**
 * A person's account, kept in the store: seeded from the config's users, then changed through the API. Its role
 * and scope are the user's; `passwordHash` is `scrypt$N$r$p$salt$hash` (see auth/passwords.ts), null when no
 * password was set (API token only); `tokenDigest` is the SHA-256 of the user's API token, null when none.
 */
export interface AccountRecord {
  readonly id: string;
  readonly name: string;
  readonly role: import('../core/principal.ts').Role;
  readonly scope: string | null;
  readonly grids: readonly string[] | null;
  readonly passwordHash: string | null;
  readonly tokenDigest: string | null;
  readonly disabled: boolean;
  /** Removed accounts stay as a record (their id is not reused by someone else's sessions) but never log in. */
  readonly removed: boolean;
  /** Set for an account made through the API; null for one seeded from the config. */
  readonly createdBy: string | null;
  readonly updatedAt: string;
}

/**
 * The longest device event key a store writes, in UTF-8 bytes: well under LMDB's key limit (1,978 bytes), and far
 * above any key of a frame the ingest accepts (a device id, a bounded counter and a bounded time). A longer key is
 * refused before anything of its change is written, by every store alike.
 */
export const maxEventKeyBytes = 1024;

/** Throws when the key is one no store writes (see maxEventKeyBytes); called before any part of a change is issued. */
export function checkEventKey(eventKey: string | undefined): void {
  // Most keys are short enough that their UTF-8 length need not be counted: at most 3 bytes a UTF-16 unit.
  if (eventKey === undefined || eventKey.length * 3 <= maxEventKeyBytes) return;
  const bytes = Buffer.byteLength(eventKey);
  if (bytes > maxEventKeyBytes) {
    throw new GridhubError(
      'GRIDHUB_STORE_FAILED',
      `event key of ${bytes} bytes refused (at most ${maxEventKeyBytes}): nothing of the change was written`,
    );
  }
}

/** How long a device event's key is kept after its change is committed: longer than any broker keeps a session. */
export const eventKeyRetentionMs = 24 * 60 * 60_000;

/**
 * A change of an incident written under the rules several hub instances need (see Store.writeIncident). Each part
 * is optional: without them it is a plain write, as saveIncident.
 */
export interface IncidentWrite {
  readonly incident: Incident;
  /** Written in the same transaction. */
  readonly audit?: AuditEntry;
  /**
   * Optimistic concurrency: the version the change was made from (a new incident's is 0, and so is that of an
   * incident stored without one). Refused as `version` when the stored incident's version differs: another
   * instance changed it meanwhile.
   */
  readonly expectedVersion?: number;
  /**
   * The device condition (device and event type) whose incident this is. An open incident written with `claim`
   * becomes the condition's open incident, refused as `condition` when another incident still open holds it
   * (unless that is `replaces`, an incident whose dedupe window has passed). An incident that is no longer open
   * releases the condition it holds.
   */
  readonly condition?: { readonly key: string; readonly claim?: boolean; readonly replaces?: string };
  /**
   * The device event that caused the change, recorded in the same transaction (kept for eventKeyRetentionMs), so
   * that a redelivery of the event is recognised; refused as `event` when it is already recorded.
   */
  readonly eventKey?: string;
}

/** What became of an IncidentWrite: written, or refused with why and, for `condition`, who holds it. */
export type IncidentWriteOutcome =
  | { readonly written: true }
  | { readonly written: false; readonly refused: 'version' }
  /** The event's change was committed before: into this incident, where the store keeps that (Redis does). */
  | { readonly written: false; readonly refused: 'event'; readonly incidentId?: string }
  | { readonly written: false; readonly refused: 'condition'; readonly holder: string };

/**
 * Where the hub keeps what it accepted. The embedded LMDB store is the default; a Redis store implements the
 * same interface for several hub instances. Writes resolve when the data is durable: the ingest path
 * acknowledges a device message only after that (see ingest/device-ingest.ts).
 */
export interface Store {
  readonly kind: string;
  readonly state: ComponentState;
  /**
   * Where webhook deliveries wait until delivered or given up, so a restart sends them still. Undefined on a store
   * several instances share: each instance's queue is its own, and another's would be sent twice.
   */
  readonly outbox?: DeliveryOutbox;
  start(): Promise<void>;
  stop(): Promise<void>;
  /**
   * Writes the incident and, when given, its audit entry and the key of the device event that caused the change,
   * in one transaction: a change is never half-written, and an event whose change is committed is known as such.
   */
  saveIncident(incident: Incident, audit?: AuditEntry, eventKey?: string): Promise<void>;
  /**
   * Writes a repeat folded into the incident (dedupe): since its last write only `occurrences`, `lastOccurredAt` and
   * `updatedAt` changed, so a store may write just those (the embedded store does; repeats are most of the incident
   * writes under load), with the event's key in the same transaction. Reads return the incident with them applied.
   */
  saveRepeat(incident: Incident, eventKey?: string): Promise<void>;
  /**
   * Writes another device's event joined into the incident (a correlation join, a storm grouping): since its last
   * write `related` only grew by `joined` (the newest relatedEventsLimit kept), and of the rest only `occurrences`,
   * `lastOccurredAt`, `updatedAt`, `severity` and `title` may have changed. A store may append just that (the
   * embedded store does: a flooded grid's storm takes one such write per grouped event, and rewriting the whole
   * incident, its related events included, each time was most of what the store encoded), with the audit entry and
   * the event's key in the same transaction. Reads return the incident with it applied.
   */
  saveJoined(incident: Incident, joined: RelatedEvent, audit?: AuditEntry, eventKey?: string): Promise<void>;
  /**
   * Writes a change under the checks several instances need: a version compare-and-set, a device condition's open
   * incident created if absent, a device event recorded once. Checks and writes are one atomic step.
   */
  writeIncident(write: IncidentWrite): Promise<IncidentWriteOutcome>;
  /** The id of the device condition's open incident (see IncidentWrite.condition), if one holds it. */
  openCondition(conditionKey: string): Promise<string | undefined>;
  /**
   * True when a change caused by this device event is committed. The embedded store answers synchronously, so its
   * ingest path takes no extra turn; a shared store answers with a promise.
   */
  eventCommitted(eventKey: string): boolean | Promise<boolean>;
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
  saveRoster(roster: RosterDescription): Promise<void>;
  listRosters(): Promise<RosterDescription[]>;
  listAudit(query: AuditQuery): Promise<AuditEntry[]>;
  /** Kept until its `expiresAt` at least; a session past it may be gone. Writing one again replaces it. */
  saveSession(session: SessionRecord): Promise<void>;
  getSession(id: string): Promise<SessionRecord | undefined>;
  /** A user's sessions not yet past their end (revoked ones included). */
  listSessions(userId: string): Promise<SessionRecord[]>;
  saveAccount(account: AccountRecord): Promise<void>;
  getAccount(id: string): Promise<AccountRecord | undefined>;
  listAccounts(): Promise<AccountRecord[]>;
  /**
   * A small record of a named collection (push subscriptions, remembered phones, notification state, positions),
   * plain JSON data under a key. Kept until removed or, with `expiresAt` (epoch ms), at least until then: a record
   * past it is never read again and goes when the store next sweeps. Writing a key again replaces its record.
   */
  putRecord(collection: RecordCollection, key: string, value: unknown, expiresAt?: number): Promise<void>;
  getRecord<T>(collection: RecordCollection, key: string): Promise<T | undefined>;
  /** The records of a collection not past their end, in key order; with `prefix`, those whose key starts with it. */
  listRecords<T>(collection: RecordCollection, prefix?: string): Promise<KeptRecord<T>[]>;
  removeRecord(collection: RecordCollection, key: string): Promise<void>;
}

/** A record of a collection, as {@link Store.listRecords} lists it. */
export interface KeptRecord<T> {
  readonly key: string;
  readonly value: T;
  /** Epoch ms, or null: kept until removed. */
  readonly expiresAt: number | null;
}

/** A collection's name: lower-case words joined by hyphens. Keys are at most {@link maxRecordKeyLength} characters. */
export type RecordCollection = string;
export const recordCollectionPattern = /^[a-z][a-z0-9-]{0,39}$/;
export const maxRecordKeyLength = 200;

/** Refuses a collection name or key no store should hold (a programming error, not input: callers bound input). */
export function checkRecordKey(collection: string, key: string): void {
  if (!recordCollectionPattern.test(collection))
    throw new GridhubError('GRIDHUB_STORE_FAILED', `bad record collection ${JSON.stringify(collection)}`);
  if (key.length === 0 || key.length > maxRecordKeyLength)
    throw new GridhubError(
      'GRIDHUB_STORE_FAILED',
      `a record key must have 1 to ${maxRecordKeyLength} characters`,
    );
}
