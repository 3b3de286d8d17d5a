// Sealed states (`@mendsync/core/sealed`): space keys and epochs, keyed ids, and the sealing and
// opening of a key's causal value so that peers without the key store and join it unread.
export * from './envelope.js'
export * from './keyed-id.js'
export * from './keyring.js'
export * from './open-value.js'
export * from './seal-value.js'
export * from './sealed-mutation.js'
