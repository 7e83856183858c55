import type { ManscdpMessage } from './manscdp.ts';

/**
 * GB/T 28181 answers a query in two steps: the device's 200 to the hub's MESSAGE says it was received, and the
 * answer itself comes later as a MESSAGE of the device's own (`<Response>` with the query's SN and CmdType). A
 * catalog's answer may come in pages, each a MESSAGE with `SumNum` (all items) and a `DeviceList` of some of them.
 * This table holds each query until its answer is whole or its time is up; a late or unasked answer is dropped.
 */

export interface PendingQuery {
  /** The gridhub device asked (the registration's). */
  readonly deviceId: string;
  readonly cmdType: string;
  readonly sn: number;
}

interface Waiting {
  readonly resolve: (answers: readonly ManscdpMessage[]) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
  readonly answers: ManscdpMessage[];
  /** Paged answers (a catalog): how to read a page, and the items seen so far (a page sent twice counts once). */
  readonly paged?: PageCounter;
  readonly itemsSeen: Set<string>;
}

/**
 * A paged answer's page: how many items the device says there are in all, and the ids of this page's items. It
 * reads (and so checks) the page: one that does not read throws, and is not taken.
 */
export type PageCounter = (answer: ManscdpMessage) => {
  readonly sumNum: number;
  readonly items: readonly string[];
};

/** The most pages one answer gathers: past it the answer is whole (a device cannot grow the hub's memory by paging). */
export const maxPages = 512;

export class QueryTimeout extends Error {
  override readonly name = 'QueryTimeout';
  constructor(
    readonly query: PendingQuery,
    readonly partial: readonly ManscdpMessage[],
  ) {
    super(`no whole answer to ${query.cmdType} (SN ${query.sn}) from ${query.deviceId} in time`);
  }
}

export class PendingAnswers {
  readonly #waiting = new Map<string, Waiting>();

  get size(): number {
    return this.#waiting.size;
  }

  /**
   * Waits for the answer to a query the hub is about to send. `paged`: the answer is whole once its pages hold
   * `SumNum` items (read by `countOf`); otherwise the first answer is whole. On time-out a paged query resolves
   * with the pages it has when it has any (a device that lost one page still gave the rest); otherwise it rejects.
   */
  expect(query: PendingQuery, timeoutMs: number, paged?: PageCounter): Promise<readonly ManscdpMessage[]> {
    const key = keyOf(query.deviceId, query.cmdType, query.sn);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const waiting = this.#waiting.get(key);
        this.#waiting.delete(key);
        const answers = waiting?.answers ?? [];
        if (paged !== undefined && answers.length > 0) resolve(answers);
        else reject(new QueryTimeout(query, answers));
      }, timeoutMs);
      timer.unref();
      this.#waiting.set(key, {
        resolve,
        reject,
        timer,
        answers: [],
        itemsSeen: new Set(),
        ...(paged === undefined ? {} : { paged }),
      });
    });
  }

  /** Hands over an answer the device sent; false when nothing waits for it (late, repeated or never asked). */
  answer(deviceId: string, message: ManscdpMessage): boolean {
    const key = keyOf(deviceId, message.cmdType, message.sn);
    const waiting = this.#waiting.get(key);
    if (waiting === undefined) return false;
    if (waiting.paged !== undefined) {
      const { sumNum, items } = waiting.paged(message);
      waiting.answers.push(message);
      for (const item of items) waiting.itemsSeen.add(item);
      // A device that says SumNum 0, or pages past it, or pages without end, is whole now.
      if (waiting.itemsSeen.size < sumNum && waiting.answers.length < maxPages) return true;
    } else {
      waiting.answers.push(message);
    }
    this.#settle(key, waiting);
    waiting.resolve(waiting.answers);
    return true;
  }

  /** Fails one query (its request never reached the device). */
  cancelOne(query: PendingQuery, reason: Error): void {
    const key = keyOf(query.deviceId, query.cmdType, query.sn);
    const waiting = this.#waiting.get(key);
    if (waiting === undefined) return;
    this.#settle(key, waiting);
    waiting.reject(reason);
  }

  /** Fails the device's queries (it unregistered) or every query (the server stops). */
  cancel(reason: Error, deviceId?: string): void {
    for (const [key, waiting] of [...this.#waiting]) {
      if (deviceId !== undefined && !key.startsWith(`${deviceId}\u0000`)) continue;
      this.#settle(key, waiting);
      waiting.reject(reason);
    }
  }

  #settle(key: string, waiting: Waiting): void {
    clearTimeout(waiting.timer);
    this.#waiting.delete(key);
  }
}

function keyOf(deviceId: string, cmdType: string, sn: number): string {
  return `${deviceId}\u0000${cmdType}\u0000${sn}`;
}
