// Gossip arriving on the space topics: gossipsub's topic validator (signature, allowlist or, in a
// private space, the origin's `write`, the receiver's checks; a rejected message penalises its
// forwarder) and the delivery of validated messages to their channel's `gossip` listeners.
import type { PeerId as Libp2pPeerId, Message } from '@libp2p/interface'
import { TopicValidatorResult } from '@libp2p/interface'
import { WRITE } from '@mendsync/core/access'
import { describeError, type Logger } from '@mendsync/core/toolbox'
import type { GossipMessage } from '@mendsync/replica/adapter'
import type { BadFrameReporter } from '../rpc.js'
import type { Libp2pChannel } from './channel.js'
import type { Refusal } from './options.js'

/** What {@link GossipInbound} needs from the network. */
export interface GossipInboundContext {
  readonly report: BadFrameReporter
  /** `mendsync:libp2p:gossip`. */
  readonly logger: Logger
  /** The channel of a topic, if joined. */
  channelOf(topic: string): Libp2pChannel | undefined
  refused(refusal: Refusal): void
}

/** Counts of validated gossip, by verdict. */
export interface GossipCounts {
  readonly accepted: number
  readonly rejected: number
  readonly ignored: number
}

/** The topic validator and delivery of every space topic of one network. */
export class GossipInbound {
  private readonly context: GossipInboundContext
  /** The message each accepted gossipsub message rebuilt to, until it is delivered. */
  private readonly validated = new WeakMap<Message, GossipMessage | null>()
  private accepted = 0
  private rejected = 0
  private ignored = 0

  constructor(context: GossipInboundContext) {
    this.context = context
  }

  get counts(): GossipCounts {
    return { accepted: this.accepted, rejected: this.rejected, ignored: this.ignored }
  }

  /** gossipsub's topic validator for `channel`'s topic. */
  validate(
    channel: Libp2pChannel,
    propagationSource: Libp2pPeerId,
    message: Message,
  ): TopicValidatorResult {
    const { logger } = this.context
    const forwarder = propagationSource.toString()
    try {
      const signed = message.type === 'signed'
      const from = signed ? message.from.toString() : forwarder
      const allowed = channel.acceptsGossip(from, forwarder)
      const result = channel.receiver.validate(from, signed, allowed, message.data)
      if (signed && !allowed) {
        this.context.refused({ peer: from, space: channel.space, protocol: 'gossip' })
      }
      if (!allowed && from !== forwarder && channel.access?.can(forwarder, WRITE)) {
        // A trusted or writing forwarder relayed an origin it still accepts (it may not have
        // the revocation yet): drop the message without penalising an honest forwarder.
        this.ignored += 1
        logger.debug('ignored gossip of an origin without write, from a trusted forwarder', {
          peer: forwarder,
          from,
          topic: channel.topic,
        })
        return TopicValidatorResult.Ignore
      }
      if (result.verdict === 'reject') {
        this.rejected += 1
        logger.debug('rejected a gossip message', {
          peer: forwarder,
          from,
          topic: channel.topic,
          reason: result.reason,
        })
        this.context.report(forwarder, `gossip rejected: ${result.reason}`)
        return TopicValidatorResult.Reject
      }
      if (result.verdict === 'ignore') {
        this.ignored += 1
        logger.debug('ignored a gossip message', {
          peer: forwarder,
          from,
          topic: channel.topic,
          reason: result.reason,
        })
        return TopicValidatorResult.Ignore
      }
      this.accepted += 1
      this.validated.set(message, result.message)
      return TopicValidatorResult.Accept
    } catch (error) {
      this.rejected += 1
      logger.debug('rejected a gossip message that failed validation', {
        peer: forwarder,
        topic: channel.topic,
        error: describeError(error),
      })
      return TopicValidatorResult.Reject
    }
  }

  /** Hands an accepted message (gossipsub's `message` event) to its channel. */
  deliver(message: Message): void {
    if (message.type !== 'signed') return
    const channel = this.context.channelOf(message.topic)
    if (!channel) return
    const decoded = this.validated.get(message)
    this.validated.delete(message)
    if (!decoded) return
    channel.emit('gossip', { peer: message.from.toString(), message: decoded })
  }
}
