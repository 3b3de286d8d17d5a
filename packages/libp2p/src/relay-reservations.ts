// Circuit-relay reservations on a node that serves private spaces: granted only to peers that
// proved a right in a private space served here (or are on an allowlist). circuit-relay-v2 3.x
// asks the connection gater (`denyInboundRelayReservation`) before every reservation; the node
// factory puts a ReservationGate there, and the network, created later on the node, gives it its
// policy. A peer usually asks for its reservation as soon as it is connected, a moment before its
// proof arrives on the access protocol, so an undecided reservation waits (bounded) for a proof.
import type { PeerId } from '@mendsync/replica/adapter'
import { ACCESS_DEFAULTS } from './constants.defaults.js'

/** The network's side of the gate. */
export interface ReservationPolicy {
  /** Whether reservations are restricted at all (the node serves private spaces). */
  restricted(): boolean
  /** Whether `peer` may hold a reservation now. */
  allows(peer: PeerId): boolean
}

/** The connection gater's reservation check, waiting for the network's policy. */
export class ReservationGate {
  private policy: ReservationPolicy | null = null
  private readonly waiting = new Map<PeerId, Set<(allowed: boolean) => void>>()
  private waiters = 0

  /** Sets (or, with `null`, removes) the policy; waiting reservations are decided again. */
  setPolicy(policy: ReservationPolicy | null): void {
    this.policy = policy
    for (const peer of [...this.waiting.keys()]) this.changed(peer)
  }

  /** Reservations waiting for a proof now. */
  get pending(): number {
    return this.waiters
  }

  /** The gater's answer: true refuses the reservation. */
  async denies(peer: PeerId): Promise<boolean> {
    const policy = this.policy
    if (policy === null || !policy.restricted() || policy.allows(peer)) return false
    if (this.waiters >= ACCESS_DEFAULTS.maxWaitingReservations) return true
    const allowed = await new Promise<boolean>((resolve) => {
      let set = this.waiting.get(peer)
      if (!set) {
        set = new Set()
        this.waiting.set(peer, set)
      }
      const entry = (value: boolean): void => {
        clearTimeout(timer)
        set.delete(entry)
        if (set.size === 0 && this.waiting.get(peer) === set) this.waiting.delete(peer)
        this.waiters -= 1
        resolve(value)
      }
      const timer = setTimeout(() => entry(false), ACCESS_DEFAULTS.reservationProofWaitMs)
      set.add(entry)
      this.waiters += 1
    })
    return !allowed
  }

  /** `peer`'s rights may have changed: a waiting reservation of it is decided if it may now. */
  changed(peer: PeerId): void {
    const set = this.waiting.get(peer)
    const policy = this.policy
    if (!set || (policy?.restricted() && !policy.allows(peer))) return
    for (const entry of [...set]) entry(true)
  }
}

const gates = new WeakMap<object, ReservationGate>()

/** Remembers the gate of `node` (the node factory calls it). */
export function registerReservationGate(node: object, gate: ReservationGate): void {
  gates.set(node, gate)
}

/** The gate the node factory installed on `node`, if any. */
export function reservationGateOf(node: object): ReservationGate | undefined {
  return gates.get(node)
}
