/**
 * Work run one at a time per key, in the order asked, on this instance: a read, its check and its write never
 * interleave with another's of the same key (a record updated read-modify-write). A failed run does not stop the
 * next. Keys are forgotten once their queue is empty.
 */
export class KeyedSerial {
  readonly #tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const next = (this.#tails.get(key) ?? Promise.resolve()).then(work, work);
    const tail = next.then(
      () => undefined,
      () => undefined,
    );
    this.#tails.set(key, tail);
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return next;
  }
}
