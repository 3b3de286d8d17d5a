// Private spaces (`@mendsync/core/access`): self-certifying space ids, signed grants with bounded
// delegation, invites, revocations, and the verifier every peer and relay runs offline.
export * from './encoding.js'
export * from './grant.js'
export * from './invite.js'
export * from './keys.js'
export * from './proof.js'
export * from './revocation.js'
export * from './rights.js'
export * from './space-id.js'
export * from './verifier.js'
