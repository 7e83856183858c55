// The worker's offline action queue. An action taken with no network (or whose request failed for lack of one) is
// kept in IndexedDB with the time it was taken, shown as 待发送 on its card, and sent again in order when the phone
// is back online (the 'online' event, the live socket's reconnection, and at start). Every action carries an
// Idempotency-Key from the moment it is taken, so a request that reached the hub before the network dropped is
// answered again, not acted on twice.
//
// After a refusal (a 409: the case was re-dispatched, cancelled or resolved meanwhile) the later queued actions on
// the same case are NOT sent: they were decided on a view of the case that proved wrong (arriving at a case someone
// else has taken over would mislead the officers). They are shown as not sent, their notes with them, for the
// worker to take again if they still apply. Actions on other cases go on. A 401 stops the replay and asks for a
// new login; the queue stays. A fault or no network stops it too, to be tried again later.
import { ApiError, api, el, reauthenticate } from './common.js';
import { actionLabel, errorLabel, stateLabel, t, time } from './i18n.js';
import { actionsOf, addAction, removeAction } from './offline-store.js';

/** The state a card is shown in while its actions wait: what they would make of it. */
const expectedStates = { accept: 'accepted', arrive: 'on_site', resolve: 'resolved' };

/** What ends a replay without deciding the action: no network, the hub's own fault, or guessing limits. */
const isTransient = (error) =>
  !(error instanceof ApiError) || error.status >= 500 || error.status === 429 || error.status === 408;

const hhmm = (iso) => time(iso).slice(11, 16);

export class Outbox {
  #userId;
  #onChange;
  #onAnswer;
  /** The queued actions, oldest first, as IndexedDB has them. */
  #entries = [];
  /** What the replays made of each case's actions: `{kind: 'sent' | 'refused' | 'dropped', text}` by incident id. */
  #results = new Map();
  /** The last incident each result is about, for a card whose case has left the task list (cancelled, taken over). */
  #snapshots = new Map();
  #replaying;

  /**
   * @param userId whose queue (the phone may be handed over: each user's actions are theirs)
   * @param onChange called whenever what the cards show changes
   * @param onAnswer called with each incident the hub answered a replay with
   */
  constructor({ userId, onChange, onAnswer }) {
    this.#userId = userId;
    this.#onChange = onChange;
    this.#onAnswer = onAnswer;
  }

  async load() {
    this.#entries = await actionsOf(this.#userId);
    this.#onChange();
  }

  get size() {
    return this.#entries.length;
  }

  /**
   * Takes an action: sent now when the phone is online and nothing waits before it, else queued. Resolves with
   * `{incident}` (the hub's answer) or `{queued: entry}`; rejects with the hub's refusal of an action sent now.
   */
  async take(incident, action, body) {
    const entry = {
      userId: this.#userId,
      incidentId: incident.id,
      action,
      body,
      key: crypto.randomUUID(),
      takenAt: new Date().toISOString(),
      incident,
    };
    this.#results.delete(incident.id);
    if (navigator.onLine && this.#entries.length === 0) {
      try {
        return { incident: await api.act(incident.id, action, body, entry.key) };
      } catch (error) {
        if (error instanceof ApiError) throw error;
        // No answer: it may or may not have arrived; its key makes sending it again safe.
      }
    }
    const kept = await addAction(entry);
    this.#entries.push(kept);
    this.#onChange();
    // Behind others still waiting while online: they go now, this one after them.
    if (navigator.onLine) this.replay();
    return { queued: kept };
  }

  /** The case's actions waiting to be sent, oldest first. */
  pendingFor(incidentId) {
    return this.#entries.filter((entry) => entry.incidentId === incidentId);
  }

  /** The state a card shows its buttons for: its own, moved on by the actions waiting on it. */
  expectedState(incident) {
    return this.pendingFor(incident.id).reduce(
      (state, entry) => expectedStates[entry.action] ?? state,
      incident.state,
    );
  }

  /** Cases with something to show that may have left the task list: their last known incident. */
  shownCases() {
    const cases = new Map(this.#snapshots);
    for (const entry of this.#entries) cases.set(entry.incidentId, entry.incident);
    return cases;
  }

  /** Forget what a case's replays said (the worker dismissed it). */
  dismiss(incidentId) {
    this.#results.delete(incidentId);
    this.#snapshots.delete(incidentId);
    this.#onChange();
  }

  /** Sends the queue in order; one replay at a time (a second call waits for the running one). */
  replay() {
    this.#replaying ??= this.#replayAll().finally(() => {
      this.#replaying = undefined;
    });
    return this.#replaying;
  }

  async #replayAll() {
    const refusedCases = new Set();
    // Oldest first, until none is left that this pass has not tried: actions taken while it runs go too.
    const tried = new Set();
    for (;;) {
      const entry = this.#entries.find((kept) => !tried.has(kept.seq));
      if (entry === undefined) return;
      tried.add(entry.seq);
      if (refusedCases.has(entry.incidentId)) {
        await this.#settle(entry, 'dropped', this.#droppedText(entry));
        continue;
      }
      try {
        const after = await api.act(
          entry.incidentId,
          entry.action,
          { ...entry.body, takenAt: entry.takenAt },
          entry.key,
        );
        await this.#settle(
          entry,
          'sent',
          t('outbox.sent', {
            action: actionLabel(entry.action),
            taken: hhmm(entry.takenAt),
            state: stateLabel(after.state),
          }),
          after,
        );
        this.#onAnswer(after);
      } catch (error) {
        if (error instanceof ApiError && error.status === 401) {
          // The session is over: log in again (silently with the remembered phone); the queue stays for then.
          await reauthenticate().catch(() => undefined);
          return;
        }
        if (isTransient(error)) return;
        refusedCases.add(entry.incidentId);
        await this.#settle(entry, 'refused', await this.#refusalText(entry, error));
      }
    }
  }

  async #settle(entry, kind, text, incident = entry.incident) {
    await removeAction(entry.seq);
    this.#entries = this.#entries.filter((kept) => kept.seq !== entry.seq);
    const results = this.#results.get(entry.incidentId) ?? [];
    this.#results.set(entry.incidentId, [...results, { kind, text, action: entry.action }]);
    this.#snapshots.set(entry.incidentId, incident);
    this.#onChange();
  }

  /** A refusal in words: the hub's reason (translated where i18n.js has its code), and what the case is now. */
  async #refusalText(entry, error) {
    const current = await api.get(`/api/incidents/${encodeURIComponent(entry.incidentId)}`).catch(() => null);
    const now = current ? t('outbox.nowState', { state: stateLabel(current.state) }) : t('outbox.notYours');
    if (current) this.#snapshots.set(entry.incidentId, current);
    return t('outbox.refused', {
      action: actionLabel(entry.action),
      taken: hhmm(entry.takenAt),
      reason: errorLabel(error),
      now,
    });
  }

  #droppedText(entry) {
    const note = entry.body?.note ? t('outbox.droppedNote', { note: entry.body.note }) : '';
    return t('outbox.dropped', { action: actionLabel(entry.action), taken: hhmm(entry.takenAt) }) + note;
  }

  /** What a card shows of its case's queue and replays: one line each, 待发送 while waiting. */
  view(incidentId) {
    const lines = [
      ...(this.#results.get(incidentId) ?? []).map((result) =>
        el('li', { dataset: { outbox: result.kind, action: result.action } }, result.text),
      ),
      ...this.pendingFor(incidentId).map((entry) =>
        el(
          'li',
          { dataset: { outbox: 'pending', action: entry.action } },
          t('outbox.pending', { action: actionLabel(entry.action), taken: hhmm(entry.takenAt) }),
        ),
      ),
    ];
    return lines.length === 0 ? null : el('ul', { class: 'outbox', 'aria-live': 'polite' }, lines);
  }

  /** Whether a case has anything to show (a card stays for it even after it left the task list). */
  has(incidentId) {
    return this.#results.has(incidentId) || this.pendingFor(incidentId).length > 0;
  }
}
