import type { AuditTrail } from '../audit/audit-trail.ts';
import { refused } from '../core/errors.ts';
import type { Principal, Role } from '../core/principal.ts';
import { type LoginFailureReason, loginFailureReasons } from '../core/reasons.ts';
import type { People, UserDescription } from '../core/user.ts';
import type { Jurisdiction } from '../jurisdiction/jurisdiction.ts';
import type { Logger } from '../observability/logger.ts';
import { declareMetrics, type MetricsRegistry } from '../observability/metrics-registry.ts';
import type { AccountRecord, Store } from '../store/store.ts';
import { hashPassword, verifyPassword } from './passwords.ts';
import type { Sessions } from './sessions.ts';
import { tokenDigest, type UserDirectory } from './token-authenticator.ts';

// The list of reasons is in core, where the metrics registry reads it.
export type { LoginFailureReason } from '../core/reasons.ts';

/** What password logins count: the successful (counted by the login route), the failed, the lockouts. */
export const loginMetrics = declareMetrics((metrics) => {
  const loginFailures = metrics.counter({
    name: 'gridhub_login_failures_total',
    help: 'Failed password logins, by reason (the caller is told none apart): unknown_user, wrong_password, no_password (the account has none), disabled, locked (the username is locked out).',
    labelNames: ['reason'] as const,
    shownAtZero: { reason: loginFailureReasons },
  });
  return {
    logins: metrics.counter({
      name: 'gridhub_logins_total',
      help: 'Successful password logins.',
    }),
    loginFailures,
    accountLockouts: metrics.counter({
      name: 'gridhub_account_lockouts_total',
      help: 'Usernames locked after repeated failed logins (hub.loginLockout).',
    }),
  };
});

/** An account as the API shows it: never its password hash or token digest. */
export interface AccountView {
  readonly id: string;
  readonly name: string;
  readonly role: Role;
  readonly scope: string | null;
  readonly grids: readonly string[] | null;
  readonly disabled: boolean;
  readonly hasPassword: boolean;
  readonly hasApiToken: boolean;
  /** Null for an account of the config file. */
  readonly createdBy: string | null;
  readonly updatedAt: string;
}

export interface NewAccount {
  readonly id: string;
  readonly name: string;
  readonly role: Role;
  readonly scope?: string | undefined;
  readonly grids?: readonly string[] | undefined;
  readonly password: string;
}

export interface LockoutSettings {
  readonly failures: number;
  readonly windowMinutes: number;
  readonly lockMinutes: number;
}

export interface AccountsOptions {
  readonly store: Pick<Store, 'saveAccount' | 'getAccount' | 'listAccounts'>;
  /** Where each change of an account is recorded (who, what, to whom); tests may leave it out. */
  readonly audit?: Pick<AuditTrail, 'record'>;
  readonly configUsers: readonly UserDescription[];
  readonly jurisdiction: Jurisdiction;
  readonly sessions: Sessions;
  readonly lockout: LockoutSettings;
  /** Ids taken by devices: an account may not take one. */
  readonly isDeviceId: (id: string) => boolean;
  readonly metrics: MetricsRegistry;
  readonly logger: Logger;
  /** On a store shared with sibling instances: how often their account changes are read (ms). */
  readonly refreshMs?: number;
}

/** The most usernames whose failures are remembered: a flood of made-up names cannot grow the map past it. */
const rememberedNames = 10_000;

function principalOfAccount(account: AccountRecord): Principal {
  return Object.freeze({
    userId: account.id,
    name: account.name,
    role: account.role,
    scopeNodeIds: Object.freeze([...(account.grids ?? (account.scope === null ? [] : [account.scope]))]),
  });
}

/** An account as the people's directory lists it: who, their role and place, and (config users) their contact. */
function personOf(account: AccountRecord, contact: UserDescription['contact']): UserDescription {
  return Object.freeze({
    id: account.id,
    name: account.name,
    role: account.role,
    ...(account.scope === null ? {} : { scope: account.scope }),
    ...(account.grids === null ? {} : { grids: [...account.grids] }),
    ...(contact === undefined ? {} : { contact }),
  });
}

function view(account: AccountRecord): AccountView {
  return {
    id: account.id,
    name: account.name,
    role: account.role,
    scope: account.scope,
    grids: account.grids,
    disabled: account.disabled,
    hasPassword: account.passwordHash !== null,
    hasApiToken: account.tokenDigest !== null,
    createdBy: account.createdBy,
    updatedAt: account.updatedAt,
  };
}

/**
 * People's accounts: seeded from the config's users, kept in the store, changed by admins (within their scope)
 * and by each user for their own password. They are the hub's user directory: the principals REST, Socket.IO and
 * MQTT authenticate, an enabled account's only. Disabling, removing or resetting an account ends its sessions
 * (its live sockets close); on a shared store, siblings read the change within `refreshMs`, and refuse its JWTs at
 * once (the sessions are ended in the store).
 *
 * Password guessing: `lockout.failures` failed logins of one username within the window lock that username for
 * `lockMinutes`, whether an account has it or not, and every failure is answered alike, after as long a check.
 */
export class Accounts implements UserDirectory {
  readonly #options: AccountsOptions;
  readonly #log: Logger;
  #byId = new Map<string, AccountRecord>();
  #principals = new Map<string, Principal>();
  #byDigest = new Map<string, Principal>();
  #people: readonly UserDescription[] = [];
  #personById = new Map<string, UserDescription>();
  readonly #failures = new Map<string, { times: number[]; lockedUntil: number }>();
  #refresher: NodeJS.Timeout | undefined;
  readonly #metrics: ReturnType<typeof loginMetrics>;

  constructor(options: AccountsOptions) {
    this.#options = options;
    this.#metrics = loginMetrics(options.metrics);
    this.#log = options.logger.child({ ns: 'accounts' });
  }

  /** Seeds the config's users (new ones created, their role and scope kept as the config says), then loads all. */
  async start(): Promise<void> {
    const { store, configUsers } = this.#options;
    const stored = new Map((await store.listAccounts()).map((account) => [account.id, account]));
    const now = new Date().toISOString();
    const inConfig = new Set<string>();
    for (const user of configUsers) {
      inConfig.add(user.id);
      const fromConfig = {
        id: user.id,
        name: user.name,
        role: user.role,
        scope: user.scope ?? null,
        grids: user.grids ?? null,
        tokenDigest: user.token !== undefined ? tokenDigest(user.token) : (user.tokenDigest ?? null),
      };
      const existing = stored.get(user.id);
      if (existing === undefined) {
        await store.saveAccount({
          ...fromConfig,
          passwordHash: user.passwordHash ?? (await this.#initialHash(user)),
          disabled: false,
          removed: false,
          createdBy: null,
          updatedAt: now,
        });
      } else if (!sameFields(existing, fromConfig)) {
        await store.saveAccount({ ...existing, ...fromConfig, updatedAt: now });
      }
    }
    // A user the config no longer lists is removed: their sessions end, their token stops working.
    for (const account of stored.values()) {
      if (account.createdBy === null && !account.removed && !inConfig.has(account.id)) {
        await store.saveAccount({ ...account, removed: true, updatedAt: now });
        await this.#options.sessions.endAllOf(account.id, 'user_removed');
      }
    }
    await this.#load();
    if (this.#options.refreshMs !== undefined) {
      this.#refresher = setInterval(() => {
        this.#load().catch((error: unknown) =>
          this.#log.warn({ err: (error as Error).message }, 'accounts not read again'),
        );
      }, this.#options.refreshMs);
      this.#refresher.unref();
    }
  }

  stop(): void {
    clearInterval(this.#refresher);
    this.#refresher = undefined;
  }

  principal(userId: string): Principal | undefined {
    return this.#principals.get(userId);
  }

  /**
   * The people of enabled accounts, the config's and the API's alike (a config user's contact kept): what routing,
   * dispatch, notifications, patrols and the assessment read. Rebuilt at each change and at each read of siblings'.
   */
  readonly people: People = {
    all: () => this.#people,
    get: (id) => this.#personById.get(id),
  };

  byTokenDigest(digest: string): Principal | undefined {
    return this.#byDigest.get(digest);
  }

  /**
   * A username and password → the principal, or why not (for the log and the metric; the caller answers every
   * failure alike).
   */
  async login(
    username: string,
    password: string,
  ): Promise<{ principal: Principal } | { failure: LoginFailureReason }> {
    const name = username.toLowerCase();
    const account = this.#byId.get(name);
    // Checked first whatever follows, so a locked name answers after as long as any other.
    const matches = await verifyPassword(password, account?.passwordHash);
    if ((this.#failures.get(name)?.lockedUntil ?? 0) > Date.now()) return this.#failed(name, 'locked');
    if (account === undefined || account.removed) return this.#failed(name, 'unknown_user');
    if (account.passwordHash === null) return this.#failed(name, 'no_password');
    if (!matches) return this.#failed(name, 'wrong_password');
    if (account.disabled) return this.#failed(name, 'disabled');
    this.#failures.delete(name);
    return { principal: this.#principals.get(account.id) ?? principalOfAccount(account) };
  }

  /**
   * Whether a user has this id, removed accounts included: ids are unique across users and devices. The config's
   * users count before start() has loaded them (the device registry starts first).
   */
  has(id: string): boolean {
    return this.#byId.has(id) || this.#options.configUsers.some((user) => user.id === id);
  }

  /** The accounts an admin manages: those inside their scope. */
  list(actor: Principal): AccountView[] {
    return [...this.#byId.values()]
      .filter((account) => !account.removed && this.#manages(actor, account))
      .map(view);
  }

  get(actor: Principal, id: string): AccountView {
    return view(this.#managed(actor, id));
  }

  async create(actor: Principal, input: NewAccount): Promise<AccountView> {
    this.#checkShape(input);
    if (!this.#manages(actor, { scope: input.scope ?? null, grids: input.grids ?? null }))
      throw refused('forbidden', 'you may only make accounts inside your own scope');
    if (this.#byId.has(input.id) || this.#options.isDeviceId(input.id))
      throw refused('conflict', `the id "${input.id}" is taken`);
    const account: AccountRecord = {
      id: input.id,
      name: input.name,
      role: input.role,
      scope: input.scope ?? null,
      grids: input.grids === undefined ? null : [...input.grids],
      passwordHash: await hashPassword(input.password),
      tokenDigest: null,
      disabled: false,
      removed: false,
      createdBy: actor.userId,
      updatedAt: new Date().toISOString(),
    };
    await this.#save(account);
    this.#log.info({ actor: actor.userId, userId: account.id, role: account.role }, 'account created');
    await this.#audit(actor, 'account.create', account.id, { role: account.role });
    return view(account);
  }

  async setDisabled(actor: Principal, id: string, disabled: boolean): Promise<AccountView> {
    const account = await this.#fresh(this.#managed(actor, id));
    if (id === actor.userId) throw refused('forbidden', 'you cannot disable your own account');
    const changed = { ...account, disabled, updatedAt: new Date().toISOString() };
    await this.#save(changed);
    if (disabled) await this.#options.sessions.endAllOf(id, 'user_disabled');
    this.#log.info(
      { actor: actor.userId, userId: id, disabled },
      disabled ? 'account disabled' : 'account enabled',
    );
    await this.#audit(actor, disabled ? 'account.disable' : 'account.enable', id);
    return view(changed);
  }

  async remove(actor: Principal, id: string): Promise<void> {
    const account = await this.#fresh(this.#managed(actor, id));
    if (id === actor.userId) throw refused('forbidden', 'you cannot remove your own account');
    await this.#save({ ...account, removed: true, updatedAt: new Date().toISOString() });
    await this.#options.sessions.endAllOf(id, 'user_removed');
    this.#log.info({ actor: actor.userId, userId: id }, 'account removed');
    await this.#audit(actor, 'account.remove', id);
  }

  /** An admin sets a user's password: every session of the user ends. */
  async resetPassword(actor: Principal, id: string, password: string): Promise<void> {
    const account = await this.#fresh(this.#managed(actor, id));
    await this.#save({
      ...account,
      passwordHash: await hashPassword(password),
      updatedAt: new Date().toISOString(),
    });
    await this.#options.sessions.endAllOf(id, 'password_changed');
    this.#failures.delete(id.toLowerCase());
    this.#log.info({ actor: actor.userId, userId: id }, 'password reset');
    await this.#audit(actor, 'account.password_reset', id);
  }

  /** A user changes their own password, the old one required; their other sessions end. */
  async changeOwnPassword(principal: Principal, oldPassword: string, newPassword: string): Promise<void> {
    const known = this.#byId.get(principal.userId);
    if (known === undefined || known.removed) throw refused('not_found', 'no such account');
    const account = await this.#fresh(known);
    // The old password is a login's secret: its wrong guesses count toward the username's lockout, as a login's do
    // (a stolen session must not become a way to guess the password behind it).
    const name = principal.userId.toLowerCase();
    const matches = await verifyPassword(oldPassword, account.passwordHash);
    if ((this.#failures.get(name)?.lockedUntil ?? 0) > Date.now())
      throw refused('forbidden', 'too many failed attempts: try again later');
    if (!matches) {
      this.#failed(name, 'wrong_password');
      throw refused('forbidden', 'the old password is wrong');
    }
    await this.#save({
      ...account,
      passwordHash: await hashPassword(newPassword),
      updatedAt: new Date().toISOString(),
    });
    await this.#options.sessions.endAllOf(principal.userId, 'password_changed', principal.session?.id);
    this.#log.info({ userId: principal.userId }, 'own password changed');
    await this.#audit(principal, 'account.password_change', principal.userId);
  }

  #failed(name: string, failure: LoginFailureReason): { failure: LoginFailureReason } {
    const { lockout } = this.#options;
    const metrics = this.#metrics;
    metrics.loginFailures.labels(failure).inc();
    if (failure === 'locked') return { failure };
    const now = Date.now();
    const entry = this.#failures.get(name) ?? { times: [], lockedUntil: 0 };
    this.#failures.delete(name);
    // Re-inserted: the map's order is the order of last failure, oldest first, for the bound below.
    this.#failures.set(name, entry);
    entry.times = entry.times.filter((time) => time > now - lockout.windowMinutes * 60_000);
    entry.times.push(now);
    if (entry.times.length >= lockout.failures) {
      entry.lockedUntil = now + lockout.lockMinutes * 60_000;
      entry.times = [];
      metrics.accountLockouts.inc();
      this.#log.warn(
        { userId: this.#byId.has(name) ? name : '(unknown)', minutes: lockout.lockMinutes },
        'username locked after repeated failed logins',
      );
    }
    if (this.#failures.size > rememberedNames) {
      const oldest = this.#failures.keys().next().value;
      if (oldest !== undefined) this.#failures.delete(oldest);
    }
    return { failure };
  }

  #audit(
    actor: Principal,
    action: string,
    userId: string,
    detail: Record<string, unknown> = {},
  ): Promise<void> {
    return (
      this.#options.audit?.record(actor, {
        action,
        target: { kind: 'user', id: userId },
        outcome: 'ok',
        detail,
      }) ?? Promise.resolve()
    );
  }

  /** Where a user works, removed accounts included: the scope node or grids that place an audit entry about them. */
  placeOf(id: string): readonly string[] {
    const account = this.#byId.get(id);
    if (account === undefined) return [];
    return account.grids ?? (account.scope === null ? [] : [account.scope]);
  }

  /**
   * The account as the store has it now: another instance sharing the store may have changed it since this one last
   * read its accounts (they are re-read every refreshMs), and a change made from a stale copy would undo that one.
   */
  async #fresh(account: AccountRecord): Promise<AccountRecord> {
    return (await this.#options.store.getAccount(account.id)) ?? account;
  }

  /** The account, if this admin manages it; else not found (an account out of scope is not shown to exist). */
  #managed(actor: Principal, id: string): AccountRecord {
    const account = this.#byId.get(id);
    if (account === undefined || account.removed || !this.#manages(actor, account))
      throw refused('not_found', `no account "${id}" in your scope`);
    return account;
  }

  /** An admin manages the accounts whose every node lies inside their own. */
  #manages(actor: Principal, target: Pick<AccountRecord, 'scope' | 'grids'>): boolean {
    if (actor.role !== 'admin') return false;
    const nodes = target.grids ?? (target.scope === null ? [] : [target.scope]);
    const { jurisdiction } = this.#options;
    return (
      nodes.length > 0 &&
      nodes.every((node) => actor.scopeNodeIds.some((own) => jurisdiction.isWithin(node, own)))
    );
  }

  /** As the config's users are checked (load.ts): a role's kind of scope, on nodes that exist. */
  #checkShape(input: NewAccount): void {
    const { jurisdiction } = this.#options;
    // A department user belongs to a department, which only the config names (departments[].userIds).
    if (input.role === 'department')
      throw refused('invalid', 'department users are configured, with their department (config departments)');
    const byGrids = input.role === 'grid_worker' || input.role === 'grid_chief';
    if (byGrids) {
      if (input.grids === undefined || input.grids.length === 0 || input.scope !== undefined)
        throw refused('invalid', `a ${input.role} is scoped by grids (and no scope)`);
      for (const grid of input.grids)
        if (jurisdiction.grid(grid) === undefined) throw refused('invalid', `no grid "${grid}"`);
      return;
    }
    if (input.scope === undefined || input.grids !== undefined)
      throw refused('invalid', `a ${input.role} is scoped by a scope node (and no grids)`);
    if (jurisdiction.node(input.scope) === undefined) throw refused('invalid', `no node "${input.scope}"`);
  }

  /** The config's initial password (resolved from its {env} or {file} reference when loaded), hashed. */
  async #initialHash(user: UserDescription): Promise<string | null> {
    return user.initialPassword === undefined ? null : hashPassword(user.initialPassword);
  }

  async #save(account: AccountRecord): Promise<void> {
    await this.#options.store.saveAccount(account);
    this.#byId.set(account.id, account);
    this.#index();
  }

  async #load(): Promise<void> {
    this.#byId = new Map((await this.#options.store.listAccounts()).map((account) => [account.id, account]));
    this.#index();
  }

  /** The principals of enabled accounts, by id and by API token digest. */
  #index(): void {
    const principals = new Map<string, Principal>();
    const byDigest = new Map<string, Principal>();
    const people = new Map<string, UserDescription>();
    const contacts = new Map(this.#options.configUsers.map((user) => [user.id, user.contact]));
    for (const account of this.#byId.values()) {
      if (account.disabled || account.removed) continue;
      const principal = principalOfAccount(account);
      principals.set(account.id, principal);
      if (account.tokenDigest !== null) byDigest.set(account.tokenDigest, principal);
      people.set(account.id, personOf(account, contacts.get(account.id)));
    }
    this.#principals = principals;
    this.#byDigest = byDigest;
    this.#personById = people;
    this.#people = Object.freeze([...people.values()]);
  }
}

function sameFields(
  account: AccountRecord,
  fields: Pick<AccountRecord, 'name' | 'role' | 'scope' | 'grids' | 'tokenDigest'>,
): boolean {
  return (
    account.name === fields.name &&
    account.role === fields.role &&
    account.scope === fields.scope &&
    JSON.stringify(account.grids) === JSON.stringify(fields.grids) &&
    account.tokenDigest === fields.tokenDigest
  );
}
