import {
  type AccessProof,
  AccessVerifier,
  ADMIN,
  generateSigningKey,
  READ,
  type SigningKey,
  type SpaceDescriptor,
  signGrant,
  spaceIdOf,
  WRITE,
} from '../../src/access/index.js'

/** Unix seconds of the fixed clock the tests verify at. */
export const NOW = 1_800_000_000

/** A space owned by a fresh key, a verifier on a fixed clock, and helpers to sign chains. */
export async function makeSpace(name = 'cart') {
  const owner = await generateSigningKey()
  const space: SpaceDescriptor = { owner: owner.publicKey.raw, name }
  const spaceId = spaceIdOf(space)
  let clock = NOW * 1000
  const verifier = new AccessVerifier(space, { now: () => clock })
  return {
    owner,
    space,
    spaceId,
    verifier,
    setNow(seconds: number) {
      clock = seconds * 1000
    },
    /** owner -> ... -> last subject, each link giving `rights[i]`, valid an hour around NOW. */
    async chain(keys: readonly SigningKey[], rights: readonly number[]): Promise<AccessProof> {
      let issuer = owner
      const chain = []
      for (let i = 0; i < keys.length; i++) {
        const subject = keys[i] as SigningKey
        chain.push(
          await signGrant(issuer, {
            space: spaceId,
            subject: subject.publicKey.raw,
            rights: rights[i] as number,
            notBefore: NOW - 3600,
            expiresAt: NOW + 3600,
          }),
        )
        issuer = subject
      }
      return { space, chain }
    },
  }
}

export const READ_WRITE = READ | WRITE
export const EVERYTHING_BUT_INVITE = READ | WRITE | ADMIN

/** `count` fresh signing keys. */
export async function keys(count: number): Promise<SigningKey[]> {
  return await Promise.all(Array.from({ length: count }, () => generateSigningKey()))
}
