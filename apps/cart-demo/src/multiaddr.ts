// What the demo reads out of a multiaddr string.

/** The peer id at the end of a multiaddr (`…/p2p/<id>`), if it names one. */
export function peerIdOfAddress(address: string | undefined): string | undefined {
  const parts = address?.split('/') ?? []
  const at = parts.lastIndexOf('p2p')
  return at >= 0 ? parts[at + 1] : undefined
}
