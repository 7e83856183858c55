import { randomBytes } from 'node:crypto';
import {
  type SessionEndReason,
  type SessionRefusalReason,
  sessionEndReasons,
  sessionRefusalReasons,
} from '../core/reasons.ts';
import type { Logger } from '../observability/logger.ts';
import { declareMetrics, type MetricsRegistry } from '../observability/metrics-registry.ts';
import type { SessionRecord, Store } from '../store/store.ts';

// The lists of reasons are in core, where the metrics registry reads them.
export type { SessionEndReason, SessionRefusalReason } from '../core/reasons.ts';

/** What sessions count: those opened, ended and refused. */
const sessionMetrics = declareMetrics((metrics) => {
  const sessionsEnded = metrics.counter({
    name: 'gridhub_sessions_ended_total',
    help: 'Login sessions ended before their time, by reason: logout, user_disabled, user_removed, password_changed.',
    labelNames: ['reason'] as const,
    shownAtZero: { reason: sessionEndReasons },
  });
  const sessionRefusals = metrics.counter({
    name: 'gridhub_session_refusals_total',
    help: "JWTs refused although well signed because their session is not live, by reason: unknown, revoked, expired, not_owner (another user's session).",
    labelNames: ['reason'] as const,
    shownAtZero: { reason: sessionRefusalReasons },
  });
  return {
    sessionsOpened: metrics.counter({
      name: 'gridhub_sessions_opened_total',
      help: 'Login sessions opened (a password login, or a JWT issued for an API token).',
    }),
    sessionsEnded,
    sessionRefusals,
  };
});

/** What ended: one session, or every session (and API token connection) of a user. */
export type SessionEnd =
  | { readonly sessionId: string; readonly userId: string; readonly reason: SessionEndReason }
  | { readonly sessionId?: undefined; readonly userId: string; readonly reason: SessionEndReason };

export interface SessionsOptions {
  readonly store: Pick<Store, 'saveSession' | 'getSession' | 'listSessions'>;
  /** A session's absolute lifetime: refreshing its JWT never takes it past this. */
  readonly maxHours: number;
  readonly metrics: MetricsRegistry;
  readonly logger: Logger;
  /** The clock sessions are opened, ended and checked by (ms since the epoch); Date.now unless a test moves it. */
  readonly now?: () => number;
}

/**
 * Login sessions, kept in the store so every hub instance sharing it sees them: a person's JWTs carry their
 * session's id, and a JWT is accepted only while its session lasts. A session ends at its absolute end (a shift,
 * `hub.sessionMaxHours`), at logout, or when its user is disabled, removed or has their password reset; whoever
 * listens (the live sockets) is told, and closes what belonged to it.
 */
export class Sessions {
  readonly #options: SessionsOptions;
  readonly #log: Logger;
  readonly #listeners = new Set<(end: SessionEnd) => void>();
  readonly #metrics: ReturnType<typeof sessionMetrics>;
  readonly #now: () => number;

  constructor(options: SessionsOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#metrics = sessionMetrics(options.metrics);
    this.#log = options.logger.child({ ns: 'sessions' });
  }

  get maxMs(): number {
    return this.#options.maxHours * 3600_000;
  }

  async open(userId: string): Promise<SessionRecord> {
    const now = this.#now();
    const session: SessionRecord = {
      id: randomBytes(16).toString('base64url'),
      userId,
      createdAt: new Date(now).toISOString(),
      expiresAt: new Date(now + this.maxMs).toISOString(),
      revokedAt: null,
      revokedReason: null,
    };
    await this.#options.store.saveSession(session);
    this.#metrics.sessionsOpened.inc();
    return session;
  }

  /** The session if it is the user's and lasts still; else undefined, the refusal counted. */
  async live(sessionId: string, userId: string): Promise<SessionRecord | undefined> {
    const session = await this.#options.store.getSession(sessionId);
    const refusal: SessionRefusalReason | undefined =
      session === undefined
        ? 'unknown'
        : session.userId !== userId
          ? 'not_owner'
          : session.revokedAt !== null
            ? 'revoked'
            : Date.parse(session.expiresAt) <= this.#now()
              ? 'expired'
              : undefined;
    if (refusal === undefined) return session;
    this.#metrics.sessionRefusals.labels(refusal).inc();
    return undefined;
  }

  /** Ends one session (logout); the sockets of it are closed. */
  async end(session: SessionRecord, reason: SessionEndReason): Promise<void> {
    await this.#revoke(session, reason);
    this.#log.info({ userId: session.userId, reason }, 'session ended');
    this.#tell({ sessionId: session.id, userId: session.userId, reason });
  }

  /**
   * Ends every session of a user, and closes every live socket of theirs (API token ones included); or, `except`
   * one session (a password changed by its owner), the others and their sockets only.
   */
  async endAllOf(userId: string, reason: SessionEndReason, except?: string): Promise<number> {
    const sessions = await this.#options.store.listSessions(userId);
    const ending = sessions.filter((session) => session.revokedAt === null && session.id !== except);
    for (const session of ending) await this.#revoke(session, reason);
    this.#log.info({ userId, reason, sessions: ending.length }, "a user's sessions ended");
    if (except === undefined) this.#tell({ userId, reason });
    else for (const session of ending) this.#tell({ sessionId: session.id, userId, reason });
    return ending.length;
  }

  /** Called with every end made on this instance; returns the unsubscription. */
  onEnd(listener: (end: SessionEnd) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async #revoke(session: SessionRecord, reason: SessionEndReason): Promise<void> {
    await this.#options.store.saveSession({
      ...session,
      revokedAt: new Date(this.#now()).toISOString(),
      revokedReason: reason,
    });
    this.#metrics.sessionsEnded.labels(reason).inc();
  }

  #tell(end: SessionEnd): void {
    for (const listener of this.#listeners) listener(end);
  }
}
