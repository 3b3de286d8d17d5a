// What a grant lets its subject do in a space, as bits: compact on the wire, and "a delegated
// grant never exceeds its issuer's rights" is a subset test.

/** Read the space's data and gossip (pull, reconcile, receive gossip). */
export const READ = 1
/** Write (push, publish gossip, hand off changes). */
export const WRITE = 2
/** Issue grants of any rights it holds, revoke, and delegate `admin` further. */
export const ADMIN = 4
/**
 * Issue exactly one more link: a leaf grant (no `admin`, no `invite`) with rights it holds. This
 * is what an invite's key holds, so a leaked invite can never mint administrators.
 */
export const INVITE = 8

/** The names of the rights, as apps and docs spell them. */
export type RightName = 'read' | 'write' | 'admin' | 'invite'

const NAMES: readonly [RightName, number][] = [
  ['read', READ],
  ['write', WRITE],
  ['admin', ADMIN],
  ['invite', INVITE],
]

/** Every right at once (what the owner holds). */
export const ALL_RIGHTS = READ | WRITE | ADMIN | INVITE

/** The bits of `names`. */
export function rightsOf(names: readonly RightName[]): number {
  let bits = 0
  for (const name of names) {
    const entry = NAMES.find(([n]) => n === name)
    if (!entry) throw new RangeError(`unknown right '${String(name)}'`)
    bits |= entry[1]
  }
  return bits
}

/** The names of the bits in `rights`, in the order read, write, admin, invite. */
export function rightNames(rights: number): RightName[] {
  return NAMES.filter(([, bit]) => (rights & bit) !== 0).map(([name]) => name)
}

/** Whether `rights` holds every bit of `needed`. */
export function hasRights(rights: number, needed: number): boolean {
  return (rights & needed) === needed
}

/** Whether `rights` is a non-empty combination of known bits. */
export function isValidRights(rights: unknown): rights is number {
  return (
    typeof rights === 'number' &&
    Number.isInteger(rights) &&
    rights > 0 &&
    (rights & ~ALL_RIGHTS) === 0
  )
}
