// The names mendsync uses on libp2p: the direct protocols' ids and the gossipsub topic of a space.
// They are the wire contract: a relay, a firewall rule or a stock libp2p node speaks them.
import { isPrivateSpaceId } from '@mendsync/core/access'

/** Protocol id of `pull`: keys in, their states or digests out. */
export const PULL_PROTOCOL = '/mendsync/pull/1.0.0'
/** Protocol id of `push`: causal states to join, acknowledged. */
export const PUSH_PROTOCOL = '/mendsync/push/1.0.0'
/** Protocol id of `reconcile`: a reconciliation session, then the differing keys' states. */
export const RECONCILE_PROTOCOL = '/mendsync/reconcile/1.0.0'

/**
 * Protocol id of the access exchange: a peer presents its proof for a private space once per
 * connection and space, and gets the other side's in the reply (see the README).
 */
export const ACCESS_PROTOCOL = '/mendsync/access/1.0.0'

/** Every direct protocol the network serves. */
export const DIRECT_PROTOCOLS = [PULL_PROTOCOL, PUSH_PROTOCOL, RECONCILE_PROTOCOL] as const

/** The gossipsub topic of a space. */
export function spaceTopic(space: string): string {
  return `${TOPIC_PREFIX}${space}${TOPIC_SUFFIX}`
}

const TOPIC_PREFIX = '/mendsync/space/'
const TOPIC_SUFFIX = '/1'

/** The private space id of a space topic, or `null` when `topic` is not a private space's. */
export function privateSpaceOfTopic(topic: string): string | null {
  if (!topic.startsWith(TOPIC_PREFIX) || !topic.endsWith(TOPIC_SUFFIX)) return null
  const space = topic.slice(TOPIC_PREFIX.length, topic.length - TOPIC_SUFFIX.length)
  return isPrivateSpaceId(space) ? space : null
}

/** Whether `topic` is the gossipsub topic of a private space (`ms1…`). */
export function isPrivateSpaceTopic(topic: string): boolean {
  return privateSpaceOfTopic(topic) !== null
}
