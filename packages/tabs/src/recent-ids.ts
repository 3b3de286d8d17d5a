/** A bounded set of ids: adding past `capacity` forgets the oldest. */
export class RecentIds {
  readonly #ids = new Set<string>()
  readonly #capacity: number

  constructor(capacity: number) {
    this.#capacity = capacity
  }

  has(id: string): boolean {
    return this.#ids.has(id)
  }

  add(id: string): void {
    this.#ids.delete(id)
    this.#ids.add(id)
    while (this.#ids.size > this.#capacity) {
      this.#ids.delete(this.#ids.values().next().value as string)
    }
  }

  get size(): number {
    return this.#ids.size
  }
}
