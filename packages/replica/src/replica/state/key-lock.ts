/**
 * Serialises read-modify-write cycles per key: operations on one key run one after another,
 * operations on different keys run concurrently. An operation on several keys waits for all of
 * them at once (registered synchronously), so multi-key operations cannot deadlock.
 */
export class KeyLock {
  private readonly tails = new Map<string, Promise<unknown>>()

  run<T>(keys: readonly string[], work: () => Promise<T>): Promise<T> {
    const previous = Promise.all(keys.map((key) => this.tails.get(key)))
    const result = previous.then(work)
    // The next operation waits for this one to settle; its outcome goes to its own caller.
    const tail = Promise.allSettled([result])
    for (const key of keys) this.tails.set(key, tail)
    void tail.then(() => {
      for (const key of keys) if (this.tails.get(key) === tail) this.tails.delete(key)
    })
    return result
  }

  /** Resolves when every operation queued so far has settled. */
  async idle(): Promise<void> {
    while (this.tails.size > 0) await Promise.all(this.tails.values())
  }
}
