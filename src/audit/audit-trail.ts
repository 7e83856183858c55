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

/** Writes who did what, when and how it ended; the one way every component records an audited action. */
export class AuditTrail {
  readonly #store: Store;

  constructor(store: Store) {
    this.#store = store;
  }

  record(actor: Principal | 'system', record: AuditRecord): Promise<void> {
    return this.#store.appendAudit({
      id: timeOrderedId('aud'),
      at: new Date().toISOString(),
      actor:
        actor === 'system'
          ? { userId: 'system', role: 'system' }
          : { userId: actor.userId, role: actor.role },
      action: record.action,
      target: record.target,
      outcome: record.outcome,
      detail: record.detail ?? {},
      ...(record.message === undefined ? {} : { message: record.message }),
    });
  }
}
