// Types for the vendored reference implementation (Negentropy.cjs, unmodified), as the bench
// uses it: Uint8Array ids and messages (`wantUint8ArrayOutput = true`).

/** Sorted (timestamp, 32-byte id) items; `seal()` before reconciling. */
export declare class NegentropyStorageVector {
  insert(timestamp: number, id: Uint8Array | string): void
  seal(): void
  size(): number
}

/** One side of a negentropy reconciliation. */
export declare class Negentropy {
  constructor(storage: NegentropyStorageVector, frameSizeLimit?: number)
  /** Messages and ids as Uint8Array instead of hex strings. */
  wantUint8ArrayOutput: boolean
  /** The client's first message. */
  initiate(): Promise<Uint8Array>
  /** The reply to `query` (null on the client when done), the ids only we have, the ids only they have. */
  reconcile(query: Uint8Array | string): Promise<[Uint8Array | null, Uint8Array[], Uint8Array[]]>
}
