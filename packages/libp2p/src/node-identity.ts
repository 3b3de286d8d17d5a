// Node-only: keeps an identity in a file readable by its owner only (mode 0600). A separate
// entry point (`@mendsync/libp2p/node`) so browser bundles never pull in node:fs.
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { isMendsyncError, MendsyncError } from '@mendsync/core'
import {
  generateIdentity,
  identityFromBytes,
  identityToBytes,
  type PrivateKey,
} from './identity.js'

/** Writes `key` to `path` atomically (temporary file + rename), mode 0600, creating the folder. */
export async function saveIdentity(path: string, key: PrivateKey): Promise<void> {
  await mkdir(dirname(path), { recursive: true })
  const temporary = `${path}.${process.pid}.${Date.now()}.tmp`
  await writeFile(temporary, identityToBytes(key), { mode: 0o600 })
  await chmod(temporary, 0o600)
  await rename(temporary, path)
}

/**
 * Reads the identity saved at `path`. A missing file fails with the `ENOENT` error of node:fs;
 * unreadable contents with `DECODE_ERROR`.
 */
export async function loadIdentity(path: string): Promise<PrivateKey> {
  const bytes = await readFile(path)
  return identityFromBytes(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength))
}

/** Loads the identity at `path`, or creates and saves a new one when there is no file. */
export async function loadOrCreateIdentity(path: string): Promise<PrivateKey> {
  try {
    return await loadIdentity(path)
  } catch (error) {
    if (isMendsyncError(error)) throw error
    if ((error as { code?: string } | null)?.code !== 'ENOENT') {
      throw new MendsyncError('STORAGE_FAILURE', `cannot read the identity at ${path}`, {
        cause: error,
      })
    }
  }
  const key = await generateIdentity()
  await saveIdentity(path, key)
  return key
}
