// The names mendsync uses on libp2p: the direct protocols' ids and the gossipsub topic of a space.
// They are the wire contract: a relay, a firewall rule or a stock libp2p node speaks them.

/** Protocol id of `pull`: keys in, their states or digests out. */
export const PULL_PROTOCOL = '/mendsync/pull/1.0.0'
/** Protocol id of `push`: causal states to join, acknowledged. */
export const PUSH_PROTOCOL = '/mendsync/push/1.0.0'
/** Protocol id of `reconcile`: a reconciliation session, then the differing keys' states. */
export const RECONCILE_PROTOCOL = '/mendsync/reconcile/1.0.0'

/** Every direct protocol the network serves. */
export const DIRECT_PROTOCOLS = [PULL_PROTOCOL, PUSH_PROTOCOL, RECONCILE_PROTOCOL] as const

/** The gossipsub topic of a space. */
export function spaceTopic(space: string): string {
  return `/mendsync/space/${space}/1`
}
