// @mendsync/libp2p/testing: what a test needs to speak mendsync's wire protocols without the
// network, as an attacker or a stock libp2p node would: the frame codecs of pull, push and
// reconcile, length-prefixed framed streams, gossip payloads signed by any node (forged
// sequence numbers and vectors included), and a stock libp2p node to send them from. Not the
// product: nothing here checks access.
import type { Stream } from '@libp2p/interface'
import { lpStream } from 'it-length-prefixed-stream'
import { DEFAULT_WIRE_LIMITS } from './constants.defaults.js'

export {
  decodePullRequest,
  decodePushRequest,
  decodeReconcileFrame,
  decodeReply,
  encodeError,
  encodeFrame,
  encodePullRequest,
  encodePushRequest,
  encodeReconcileError,
  encodeReply,
  FRAME_ERROR,
  FRAME_REQUEST,
  FRAME_RESPONSE,
  type PullRequest,
  type PushRequest,
  RC_DONE,
  RC_END,
  RC_ERROR,
  RC_OPEN,
  RC_ROUND,
  RC_STATES,
  type ReconcileFrame,
  type Reply,
  statesToWire,
} from './codec.js'
export { encodeVarint } from './framing/varint.js'
export {
  decodeGossip,
  encodeGossip,
  type GossipPayload,
  GossipReceiver,
  type GossipReceiverOptions,
  GossipSender,
  type Verdict,
} from './gossip.js'
export { FramedStream } from './rpc.js'
export { type StockNode, type StockNodeOptions, startStockNode } from './testing/stock-node.js'

/** Options of {@link firstFrameOrClosed}. */
export interface FirstFrameOptions {
  /** How long to wait for a frame or the end of the stream, ms. Default `5_000`. */
  readonly timeoutMs?: number
  /** Largest frame accepted, bytes. Default `DEFAULT_WIRE_LIMITS.maxFrameBytes`. */
  readonly maxFrameBytes?: number
}

/**
 * The first frame the remote sends on `stream`, or `'closed'` when it ends or resets the stream
 * instead. Rejects when neither happens within the timeout (a victim that hangs is a failure).
 */
export async function firstFrameOrClosed(
  stream: Stream,
  options: FirstFrameOptions = {},
): Promise<Uint8Array | 'closed'> {
  const timeoutMs = options.timeoutMs ?? 5_000
  const lp = lpStream(stream, {
    maxDataLength: options.maxFrameBytes ?? DEFAULT_WIRE_LIMITS.maxFrameBytes,
  })
  try {
    const frame = await lp.read({ signal: AbortSignal.timeout(timeoutMs) })
    return frame.subarray()
  } catch (error) {
    const name = (error as { name?: string } | null)?.name
    if (name === 'AbortError' || name === 'TimeoutError') {
      throw new Error(`the remote neither sent a frame nor closed the stream in ${timeoutMs} ms`, {
        cause: error,
      })
    }
    return 'closed'
  }
}
