import type {
  KeyState,
  PeerId,
  PullMode,
  PullResult,
  SpaceHandlers,
} from '@mendsync/replica/adapter'

/**
 * Plain space handlers (no replica) that answer pulls from `values`: the raw-pull baseline of the
 * network and replica benchmarks. Digests are the first 16 bytes of a value.
 */
export function rawHandlers(values: ReadonlyMap<string, Uint8Array>): SpaceHandlers {
  return {
    async pull(_peer: PeerId, keys: readonly string[], mode: PullMode): Promise<PullResult> {
      const found = keys.map((key) => values.get(key) ?? null)
      return mode === 'digest'
        ? { mode, digests: found.map((value) => (value ? value.subarray(0, 16) : null)) }
        : { mode, states: found }
    },
    async push(_peer: PeerId, _states: readonly KeyState[]) {},
    async reconcile() {
      throw new Error('not used by the benchmark')
    },
  }
}
