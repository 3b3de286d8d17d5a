// The network's options resolved against their defaults and validated once, at creation.
import { MendsyncError } from '@mendsync/core'
import type { Logger } from '@mendsync/core/toolbox'
import type { WireLimits } from '../codec.js'
import { DEFAULT_GOSSIP_LIMITS, NETWORK_DEFAULTS } from '../constants.defaults.js'
import type { GossipLimits } from '../gossip.js'
import type { ReconcileLimits } from '../reconcile.js'
import type { RpcLimits } from '../rpc.js'
import type { Libp2pNetworkOptions, Refusal } from './options.js'

/** The resolved settings every part of the network reads. */
export interface Settings {
  readonly defaultTimeoutMs: number
  readonly reconcileTimeoutMs: number
  readonly rpc: RpcLimits
  readonly reconcile: ReconcileLimits
  readonly gossip: GossipLimits
  readonly fullVectorEvery: number
  readonly gossipRatePerSecond: number
  readonly gossipBurst: number
  readonly maxTrackedPeers: number
  readonly penaltyPoints: number
  readonly maxInboundStreams: number
  readonly maxInboundReconcileStreams: number
  readonly runOnLimitedConnection: boolean
  readonly stopNodeOnClose: boolean
  readonly reuseStreams: boolean
  readonly onRefused: ((refusal: Refusal) => void) | undefined
}

type NumericOption = {
  [K in keyof typeof NETWORK_DEFAULTS]: (typeof NETWORK_DEFAULTS)[K] extends number ? K : never
}[keyof typeof NETWORK_DEFAULTS]

/**
 * Resolves `options` against {@link NETWORK_DEFAULTS}; a bad value fails `INVALID_ARGUMENT`. The
 * rpc and reconciliation framing log through `logger`'s children `rpc` and `reconcile`.
 */
export function resolveSettings(options: Libp2pNetworkOptions, logger: Logger): Settings {
  const positive = (name: NumericOption): number => {
    const value = options[name] ?? NETWORK_DEFAULTS[name]
    if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) {
      throw new MendsyncError('INVALID_ARGUMENT', `${name} must be a positive number`)
    }
    return value
  }
  // Sizes of queues and maps (the toolbox's Semaphore and BoundedMap count in whole entries).
  const count = (name: NumericOption): number => {
    const value = positive(name)
    if (!Number.isInteger(value)) {
      throw new MendsyncError('INVALID_ARGUMENT', `${name} must be a positive integer`)
    }
    return value
  }
  const gossipBurst = positive('gossipBurst')
  if (gossipBurst < 1) {
    throw new MendsyncError('INVALID_ARGUMENT', 'gossipBurst must be at least 1')
  }
  const wire: WireLimits = {
    maxFrameBytes: positive('maxFrameBytes'),
    maxKeysPerFrame: positive('maxKeysPerFrame'),
    maxKeyLength: positive('maxKeyLength'),
  }
  return {
    defaultTimeoutMs: positive('defaultTimeoutMs'),
    reconcileTimeoutMs: positive('reconcileTimeoutMs'),
    rpc: {
      wire,
      maxInFlight: count('maxInFlight'),
      maxQueued: count('maxQueued'),
      handlerTimeoutMs: positive('handlerTimeoutMs'),
      logger: logger.child('rpc'),
    },
    reconcile: {
      wire,
      maxMessages: positive('maxReconcileMessages'),
      maxStateBytes: positive('maxReconcileStateBytes'),
      logger: logger.child('reconcile'),
    },
    gossip: { ...DEFAULT_GOSSIP_LIMITS, maxKeyLength: wire.maxKeyLength, ...options.gossipLimits },
    fullVectorEvery: positive('fullVectorEvery'),
    gossipRatePerSecond: positive('gossipRatePerSecond'),
    gossipBurst,
    maxTrackedPeers: count('maxTrackedPeers'),
    penaltyPoints: positive('penaltyPoints'),
    maxInboundStreams: positive('maxInboundStreams'),
    maxInboundReconcileStreams: positive('maxInboundReconcileStreams'),
    runOnLimitedConnection:
      options.runOnLimitedConnection ?? NETWORK_DEFAULTS.runOnLimitedConnection,
    stopNodeOnClose: options.stopNodeOnClose ?? NETWORK_DEFAULTS.stopNodeOnClose,
    reuseStreams: options.reuseStreams ?? NETWORK_DEFAULTS.reuseStreams,
    onRefused: options.onRefused,
  }
}
