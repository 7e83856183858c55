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
  /** Paged answers (a catalog): how to count a page's items, and the items so far. */
  readonly paged?: PageCounter;
  itemsSeen: number;
}

/** A paged answer's page: how many items the device says there are in all, and how many this page holds. */
export type PageCounter = (answer: ManscdpMessage) => { readonly sumNum: number; readonly items: number };

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
        itemsSeen: 0,
        ...(paged === undefined ? {} : { paged }),
      });
    });
  }

  /** Hands over an answer the device sent; false when nothing waits for it (late, repeated or never asked). */
  answer(deviceId: string, message: ManscdpMessage): boolean {
    const key = keyOf(deviceId, message.cmdType, message.sn);
    const waiting = this.#waiting.get(key);
    if (waiting === undefined) return false;
    waiting.answers.push(message);
    if (waiting.paged !== undefined) {
      const { sumNum, items } = waiting.paged(message);
      waiting.itemsSeen += items;
      // A device that says SumNum 0, or pages past it, is whole now.
      if (waiting.itemsSeen < sumNum) return true;
    }
    this.#settle(key, waiting);
    waiting.resolve(waiting.answers);
    return true;
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
