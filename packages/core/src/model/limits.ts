/**
 * Size bounds of the data model. Decoding rejects anything beyond them, so hostile or corrupt
 * input cannot make a replica allocate without bound; local operations refuse to grow a value past
 * `maxSiblings` and `maxLines`, so the values a replica builds stay decodable by its peers.
 */
export const LIMITS = {
  /** Longest replica id, in UTF-16 code units. */
  maxReplicaIdLength: 256,
  /** Longest cart sku, in UTF-16 code units. */
  maxSkuLength: 1024,
  /** Most distinct replicas one encoded value or context may mention. */
  maxReplicas: 10_000,
  /** Most dots (store entries plus context cloud) one encoded value may hold. */
  maxDots: 1_000_000,
  /** Most concurrent siblings of one register. */
  maxSiblings: 1024,
  /** Most lines of one cart. */
  maxLines: 100_000,
  /** Deepest nesting of arrays and objects inside one piece of user data. */
  maxDepth: 64,
  /** Largest quantity one cart operation may add or set. */
  maxQuantity: 2_147_483_647,
  /** Largest logical component of a hybrid logical clock timestamp. */
  maxLogical: 4_294_967_295,
  /** Largest encoding `decodeValue` accepts, in bytes. */
  maxEncodedBytes: 16 * 1024 * 1024,
} as const
