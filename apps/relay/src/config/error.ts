/** A configuration the relay cannot use; the message says which option and why. */
export class RelayConfigError extends Error {
  override name = 'RelayConfigError'
}
