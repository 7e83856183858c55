import { GridhubError, type RequestErrorCode } from '../core/errors.ts';
import { declareMetrics, type MetricsRegistry } from '../observability/metrics-registry.ts';
import type { Store } from '../store/store.ts';

/** The store's collection of answers kept by Idempotency-Key, by `userId/key`. */
export const idempotencyCollection = 'idempotency';
/** How long an answer is kept: a phone replays its queue within a shift; a key older than this acts anew. */
export const idempotencyWindowMs = 24 * 3600_000;
/** An Idempotency-Key as the pages make them: a UUID (crypto.randomUUID). */
export const idempotencyKeyPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** What is kept of a keyed request: what it asked for, and its answer, an incident or a refusal. */
interface KeptAnswer {
  readonly incidentId: string;
  readonly action: string;
  readonly answer:
    | { readonly ok: unknown }
    | { readonly error: { code: RequestErrorCode; message: string; problems?: string[] } };
}

export const idempotencyOutcomes = ['first', 'replayed', 'key_reused'] as const;

const idempotencyMetrics = declareMetrics((metrics) => ({
  keyed: metrics.counter({
    name: 'gridhub_idempotent_actions_total',
    help: 'Lifecycle actions sent with an Idempotency-Key, by outcome: first (acted on), replayed (the first answer again, not acted on twice), key_reused (refused: the key named another incident or action).',
    labelNames: ['outcome'] as const,
    shownAtZero: { outcome: idempotencyOutcomes },
  }),
}));

/**
 * Lifecycle actions that a phone may send more than once (its offline queue replays what it cannot know arrived):
 * the same key from the same user within {@link idempotencyWindowMs} answers the first answer again, a success or
 * a refusal, without acting twice. Answers are kept in the store, so a sibling hub or a restart answers the same.
 * Two requests with one key at once on this instance wait for one outcome; on two siblings at once both might act
 * (a phone's queue sends one at a time, so it does not).
 */
export class IdempotentActions {
  readonly #store: Pick<Store, 'getRecord' | 'putRecord'>;
  readonly #metrics: ReturnType<typeof idempotencyMetrics>;
  readonly #now: () => number;
  readonly #inFlight = new Map<string, Promise<KeptAnswer>>();

  constructor(store: Pick<Store, 'getRecord' | 'putRecord'>, metrics: MetricsRegistry, now = Date.now) {
    this.#store = store;
    this.#metrics = idempotencyMetrics(metrics);
    this.#now = now;
  }

  /**
   * Acts once per key: `act` runs unless this user's key has an answer (then that answer is given again, `replayed`).
   * A refusal of the catalogue's 4xx is kept and answered again; a fault (5xx) is not kept: trying again may act.
   */
  async run<T>(
    userId: string,
    key: string,
    request: { readonly incidentId: string; readonly action: string },
    act: () => Promise<T>,
  ): Promise<{ readonly answer: T; readonly replayed: boolean }> {
    const recordKey = `${userId}/${key.toLowerCase()}`;
    const pending = this.#inFlight.get(recordKey);
    const kept =
      pending === undefined
        ? await this.#store.getRecord<KeptAnswer>(idempotencyCollection, recordKey)
        : await pending.catch(() => undefined);
    if (kept !== undefined) {
      if (kept.incidentId !== request.incidentId || kept.action !== request.action) {
        this.#metrics.keyed.labels('key_reused').inc();
        throw new GridhubError(
          'idempotency_key_reused',
          `this Idempotency-Key was used for ${kept.action} on ${kept.incidentId}: send a new key`,
        );
      }
      this.#metrics.keyed.labels('replayed').inc();
      return { answer: answerOf<T>(kept), replayed: true };
    }
    const running = this.#first(recordKey, request, act);
    this.#inFlight.set(recordKey, running);
    try {
      const first = await running;
      this.#metrics.keyed.labels('first').inc();
      return { answer: answerOf<T>(first), replayed: false };
    } finally {
      this.#inFlight.delete(recordKey);
    }
  }

  async #first(
    recordKey: string,
    request: { readonly incidentId: string; readonly action: string },
    act: () => Promise<unknown>,
  ): Promise<KeptAnswer> {
    let answer: KeptAnswer['answer'];
    try {
      answer = { ok: await act() };
    } catch (error) {
      if (!(error instanceof GridhubError) || error.status >= 500) throw error;
      answer = {
        error: {
          code: error.code as RequestErrorCode,
          message: error.message,
          ...(error.problems.length > 0 ? { problems: [...error.problems] } : {}),
        },
      };
    }
    const kept: KeptAnswer = { ...request, answer };
    await this.#store.putRecord(idempotencyCollection, recordKey, kept, this.#now() + idempotencyWindowMs);
    return kept;
  }
}

/** The kept answer as the first request had it: the incident, or the refusal thrown again. */
function answerOf<T>(kept: KeptAnswer): T {
  if ('ok' in kept.answer) return kept.answer.ok as T;
  const { code, message, problems } = kept.answer.error;
  throw new GridhubError(code, message, { problems: problems ?? [] });
}
