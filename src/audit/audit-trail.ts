import type { AuditEntry } from '../core/audit.ts';
import { timeOrderedId } from '../core/ids.ts';
import type { Principal } from '../core/principal.ts';
import type { Store } from '../store/store.ts';

export interface AuditRecord {
  readonly action: string;
  readonly target: AuditEntry['target'];
  readonly outcome: AuditEntry['outcome'];
  readonly detail?: Readonly<Record<string, unknown>>;
  readonly message?: string;
}

/** Who acted: a user, or the hub itself (deadlines, devices clearing their condition, webhooks). */
export type AuditActor =
  | Pick<Principal, 'userId' | 'role'>
  | { readonly userId: 'system'; readonly role: 'system' }
  | 'system';

/** Writes who did what, when and how it ended; the one way every component records an audited action. */
export class AuditTrail {
  readonly #store: Store;

  constructor(store: Store) {
    this.#store = store;
  }

  record(actor: AuditActor, record: AuditRecord): Promise<void> {
    return this.#store.appendAudit(AuditTrail.entry(actor, record));
  }

  /** Builds an entry without writing it, for a caller that writes it together with what it audits. */
  static entry(actor: AuditActor, record: AuditRecord): AuditEntry {
    const who =
      actor === 'system' || actor.role === 'system' ? ({ userId: 'system', role: 'system' } as const) : actor;
    return {
      id: timeOrderedId('aud'),
      at: new Date().toISOString(),
      actor: { userId: who.userId, role: who.role },
      action: record.action,
      target: record.target,
      outcome: record.outcome,
      detail: record.detail ?? {},
      ...(record.message === undefined ? {} : { message: record.message }),
    } as AuditEntry;
  }
}
