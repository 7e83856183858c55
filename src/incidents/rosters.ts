import { AuditTrail } from '../audit/audit-trail.ts';
import type { Principal } from '../core/principal.ts';
import type { RosterDescription } from '../core/roster.ts';
import type { Store } from '../store/store.ts';
import type { Router } from './router.ts';

/** Duty rosters changed through the API: kept in the store, and replacing the config's roster of their grid. */
export class Rosters {
  readonly #store: Store;
  readonly #router: Router;

  constructor(store: Store, router: Router) {
    this.#store = store;
    this.#router = router;
  }

  /** Hands the stored rosters to the router (a start). */
  async load(): Promise<void> {
    for (const roster of await this.#store.listRosters()) this.#router.setRoster(roster);
  }

  /** Replaces a grid's duty roster, kept across restarts, audited. */
  async set(actor: Principal, roster: RosterDescription): Promise<void> {
    await this.#store.saveRoster(roster);
    this.#router.setRoster(roster);
    await this.#store.appendAudit(
      AuditTrail.entry(actor, {
        action: 'roster.update',
        target: { kind: 'grid', id: roster.grid },
        outcome: 'ok',
        detail: { shifts: roster.shifts },
      }),
    );
  }
}
