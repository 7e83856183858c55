import { Adapter, type BroadcastOptions, type Room, type Session } from 'socket.io-adapter';

/**
 * Names what a push is the latest state of (an incident's repeat count, a device's status), or undefined for a push
 * that must be replayed whatever follows it. A later push with the same key and the same rooms makes the earlier one
 * pointless to replay: it is dropped from the buffer at once.
 */
export type SupersedeKey = (data: readonly unknown[]) => string | undefined;

type PersistedSession = Omit<Session, 'missedPackets'>;

/**
 * The hub's cap on a replay (after superseded pushes are dropped): 20–30 ms of the event loop on the bench machine
 * (bench/recovery-stall.ts); a client that missed more gets a fresh session and reloads, as the pages do anyway.
 */
export const maxReplay = 1_000;

/** How a returning client's session ended: restored, or a fresh one and why. */
export type RecoveryOutcome = 'restored' | 'expired' | 'too_many' | 'unknown';

export interface RecoveryOptions {
  readonly supersedeKey: SupersedeKey;
  /**
   * The most pushes a returning client is replayed; one that missed more gets a fresh session and reloads the state
   * (as the hub's pages do on every connection). Socket.IO sends the replay in one go, on the event loop. The hub's
   * cap (`maxReplay`) unless a test or the bench says.
   */
  readonly maxReplay?: number;
  readonly onRestore?: (outcome: RecoveryOutcome) => void;
  /** Told what is kept after each sweep: for a gauge. */
  readonly onSweep?: (kept: { pushes: number; sessions: number; slots: number }) => void;
  /** How often expired sessions and pushes are dropped when no push comes to do it; 10 s unless a test says. */
  readonly sweepMs?: number;
}

/** A push kept for clients that drop: what was sent, to whom and when. */
interface KeptPush {
  readonly sequence: number;
  readonly emittedAt: number;
  readonly rooms: ReadonlySet<Room>;
  readonly except: ReadonlySet<Room> | undefined;
  readonly key: string | undefined;
  /** The event and its arguments, its offset last; undefined once a later push superseded it. */
  data: unknown[] | undefined;
}

/** Compaction waits for this many superseded pushes, and for them to be half of those kept: amortised O(1). */
const COMPACT_AFTER = 1024;

/** Socket.IO's answer for "nothing to restore": the client gets a fresh session (the base class returns null too). */
const notRestored = Promise.resolve(null) as unknown as Promise<Session>;

/**
 * Socket.IO connection state recovery with a buffer that stays small under load. Socket.IO's own (the in-memory
 * SessionAwareAdapter) keeps every push for the window and a minute more, finds a returning client's offset by a
 * scan of all of them and replays each one it missed: one phone back after two minutes of 5,000 pushes a second held
 * the hub's event loop for 3.4 s (bench/recovery-stall.ts, docs/benchmarks-log.md). Here:
 * - a push superseded by a later one of the same key (SupersedeKey) to the same rooms is not kept: a client that
 *   missed 2,000 repeats of one incident is sent the newest;
 * - offsets are sequence numbers, so a returning client's place is found by binary search;
 * - pushes leave the buffer as they pass the window, not a minute later;
 * - a client that missed more than `maxReplay` gets a fresh session instead of a replay that would hold the loop.
 * Otherwise the contract is Socket.IO's: a client back within the window gets what it missed, once, in order, with
 * `socket.recovered` true; else a fresh session (`recovered` false), and it reloads what it shows.
 */
export function recoveryAdapter({
  supersedeKey,
  maxReplay: replayCap = maxReplay,
  onRestore,
  onSweep,
  sweepMs = 10_000,
}: RecoveryOptions): typeof Adapter {
  const refuse = (outcome: RecoveryOutcome) => {
    onRestore?.(outcome);
    return notRestored;
  };
  return class RecoveryAdapter extends Adapter {
    #maxAgeMs = 0;
    readonly #sessions = new Map<string, { session: PersistedSession; disconnectedAt: number }>();
    /** Kept pushes in sequence order from #head; superseded ones stay as holes until compaction. */
    #pushes: KeptPush[] = [];
    #head = 0;
    #holes = 0;
    #nextSequence = 0;
    /** Pushes before this sequence left for age: a client whose offset is older may have missed one. */
    #keptFrom = 0;
    /** The newest kept push of each supersede key. */
    readonly #latest = new Map<string, KeptPush>();
    #sweeper: NodeJS.Timeout | undefined;

    override init(): void {
      this.#maxAgeMs = this.nsp.server.opts.connectionStateRecovery.maxDisconnectionDuration as number;
      this.#sweeper = setInterval(() => {
        this.#sweep(Date.now());
        onSweep?.(this.kept);
      }, sweepMs);
      this.#sweeper.unref();
    }

    override close(): void {
      clearInterval(this.#sweeper);
      this.#sweeper = undefined;
      this.#sessions.clear();
      this.#latest.clear();
      this.#pushes = [];
      this.#head = 0;
      this.#holes = 0;
    }

    /**
     * What is kept now: pushes a returning client could be sent, sessions waiting for their client, and the slots
     * the buffer holds (superseded pushes not yet compacted away included).
     */
    get kept(): { pushes: number; sessions: number; slots: number } {
      const slots = this.#pushes.length - this.#head;
      return { pushes: slots - this.#holes, sessions: this.#sessions.size, slots };
    }

    // biome-ignore lint/suspicious/noExplicitAny: Socket.IO's packet type is not exported; type, id and data are read.
    override broadcast(packet: any, opts: BroadcastOptions): void {
      // As Socket.IO's: events only (acknowledgements cannot be replayed), and not volatile ones.
      if (packet.type === 2 && packet.id === undefined && opts.flags?.volatile === undefined) {
        const now = Date.now();
        this.#dropOlderThan(now - this.#maxAgeMs);
        const data = packet.data as unknown[];
        const key = supersedeKey(data);
        const sequence = this.#nextSequence++;
        // The offset goes last in the arguments: the client keeps the last string it received and sends it back.
        data.push(sequence.toString(36));
        const push: KeptPush = {
          sequence,
          emittedAt: now,
          rooms: opts.rooms,
          except: opts.except !== undefined && opts.except.size > 0 ? opts.except : undefined,
          key,
          data,
        };
        if (key !== undefined) {
          const earlier = this.#latest.get(key);
          if (earlier?.data !== undefined && sameRooms(earlier, push)) {
            earlier.data = undefined;
            this.#holes++;
          }
          this.#latest.set(key, push);
        }
        this.#pushes.push(push);
        if (this.#holes > COMPACT_AFTER && this.#holes * 2 > this.#pushes.length - this.#head)
          this.#compact();
      }
      super.broadcast(packet, opts);
    }

    override persistSession(session: PersistedSession): void {
      this.#sessions.set(session.pid, { session, disconnectedAt: Date.now() });
    }

    override restoreSession(pid: string, offset: string): Promise<Session> {
      const kept = this.#sessions.get(pid);
      if (kept === undefined) return refuse('unknown');
      // Once: a session is restored at most one time.
      this.#sessions.delete(pid);
      const now = Date.now();
      if (kept.disconnectedAt + this.#maxAgeMs < now) return refuse('expired');
      this.#dropOlderThan(now - this.#maxAgeMs);
      const after = parseOffset(offset);
      if (after === undefined || after >= this.#nextSequence) return refuse('unknown');
      if (after + 1 < this.#keptFrom) return refuse('expired');
      const rooms = kept.session.rooms;
      const missedPackets: unknown[][] = [];
      const pushes = this.#pushes;
      for (let index = this.#firstAfter(after); index < pushes.length; index++) {
        const push = pushes[index] as KeptPush;
        if (push.data === undefined || !reaches(push, rooms)) continue;
        if (missedPackets.length === replayCap) return refuse('too_many');
        missedPackets.push(push.data);
      }
      onRestore?.('restored');
      return Promise.resolve({ ...kept.session, missedPackets });
    }

    #sweep(now: number): void {
      for (const [pid, { disconnectedAt }] of this.#sessions) {
        if (disconnectedAt + this.#maxAgeMs < now) this.#sessions.delete(pid);
      }
      this.#dropOlderThan(now - this.#maxAgeMs);
    }

    #dropOlderThan(cutoff: number): void {
      const pushes = this.#pushes;
      let head = this.#head;
      while (head < pushes.length && (pushes[head] as KeptPush).emittedAt < cutoff) {
        const push = pushes[head] as KeptPush;
        if (push.data === undefined) this.#holes--;
        else if (push.key !== undefined && this.#latest.get(push.key) === push) this.#latest.delete(push.key);
        this.#keptFrom = push.sequence + 1;
        head++;
      }
      this.#head = head;
      if (head > COMPACT_AFTER && head * 2 > pushes.length) this.#compact();
    }

    /** Drops the holes and the pushes before #head, in one pass. */
    #compact(): void {
      const kept: KeptPush[] = [];
      const pushes = this.#pushes;
      for (let index = this.#head; index < pushes.length; index++) {
        const push = pushes[index] as KeptPush;
        if (push.data !== undefined) kept.push(push);
      }
      this.#pushes = kept;
      this.#head = 0;
      this.#holes = 0;
    }

    /** The index of the first kept push after the sequence `after`. */
    #firstAfter(after: number): number {
      let low = this.#head;
      let high = this.#pushes.length;
      while (low < high) {
        const middle = (low + high) >>> 1;
        if ((this.#pushes[middle] as KeptPush).sequence <= after) low = middle + 1;
        else high = middle;
      }
      return low;
    }
  };
}

function parseOffset(offset: string): number | undefined {
  if (!/^[0-9a-z]{1,10}$/.test(offset)) return undefined;
  return Number.parseInt(offset, 36);
}

function sameRooms(a: KeptPush, b: KeptPush): boolean {
  if (a.rooms.size !== b.rooms.size || a.except !== undefined || b.except !== undefined) return false;
  for (const room of a.rooms) if (!b.rooms.has(room)) return false;
  return true;
}

/** As Socket.IO decides it: a push to no room reaches everyone; an excepted room excludes. */
function reaches(push: KeptPush, rooms: readonly Room[]): boolean {
  const included = push.rooms.size === 0 || rooms.some((room) => push.rooms.has(room));
  return included && (push.except === undefined || rooms.every((room) => !push.except?.has(room)));
}
