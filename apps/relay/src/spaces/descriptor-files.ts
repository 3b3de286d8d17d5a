// Where a private space lives on the relay's disk: beside the space's SQLite file
// (`<dir>/<space id>.sqlite`, the file storage's layout) a small JSON file `<dir>/<space id>.space`
// holds its descriptor (the owner's public key and the name the id derives from). The descriptor
// is what the relay needs to open the space again by its id alone (after a restart, with no
// configuration); the id is self-certifying, so a file whose descriptor does not derive the id
// it is named after is refused as damaged.
import { randomBytes } from 'node:crypto'
import { readdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { isMendsyncError, MendsyncError } from '@mendsync/core'
import { isPrivateSpaceId, type SpaceDescriptor, spaceIdOf } from '@mendsync/core/access'
import { toHex } from '@mendsync/core/toolbox'

/** The extension of a descriptor file. */
export const DESCRIPTOR_EXTENSION = '.space'

/** The descriptor file's JSON: a version, the owner's key in hex, the name. */
interface DescriptorJson {
  readonly v: 1
  readonly owner: string
  readonly name: string
}

/** The descriptors of the private spaces a relay stores, one file each in one directory. */
export class DescriptorFiles {
  readonly directory: string

  constructor(directory: string) {
    this.directory = directory
  }

  /** The path of the descriptor file of `spaceId`. */
  path(spaceId: string): string {
    if (!isPrivateSpaceId(spaceId)) {
      throw new MendsyncError('INVALID_ARGUMENT', `'${spaceId}' is not a private space id`)
    }
    return join(this.directory, `${spaceId}${DESCRIPTOR_EXTENSION}`)
  }

  /** The ids of every space with a descriptor file. */
  async list(): Promise<string[]> {
    const names = await readdir(this.directory).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return [] as string[]
      throw error
    })
    return names
      .filter((name) => name.endsWith(DESCRIPTOR_EXTENSION))
      .map((name) => name.slice(0, -DESCRIPTOR_EXTENSION.length))
      .filter(isPrivateSpaceId)
  }

  /**
   * The descriptor of `spaceId`, or `undefined` when none is stored. A file that does not parse,
   * or whose descriptor derives another id, is `STORAGE_CORRUPT`.
   */
  async load(spaceId: string): Promise<SpaceDescriptor | undefined> {
    const path = this.path(spaceId)
    let text: string
    try {
      text = await readFile(path, 'utf8')
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw error
    }
    const damaged = (reason: string, cause?: unknown) =>
      new MendsyncError(
        'STORAGE_CORRUPT',
        `the descriptor file ${path} is damaged (${reason}); delete it and the space is opened ` +
          'again from the next proof a peer presents',
        cause === undefined ? undefined : { cause },
      )
    let descriptor: SpaceDescriptor
    try {
      const json = JSON.parse(text) as DescriptorJson
      if (json.v !== 1 || typeof json.owner !== 'string' || !/^[0-9a-f]{64}$/.test(json.owner)) {
        throw damaged('not a version 1 descriptor')
      }
      descriptor = { owner: Uint8Array.from(Buffer.from(json.owner, 'hex')), name: json.name }
      if (spaceIdOf(descriptor) !== spaceId) throw damaged('it derives another space id')
    } catch (error) {
      if (isMendsyncError(error, 'STORAGE_CORRUPT')) throw error
      throw damaged(error instanceof Error ? error.message : String(error), error)
    }
    return descriptor
  }

  /**
   * Stores `descriptor` under its id: written to a temporary file, then renamed, so a reader
   * sees the whole file or none. Not synced: a descriptor lost in a crash is written again from
   * the next proof a peer presents (the space's data is in its own, synced, file), and one fsync
   * less per new space matters when thousands are created.
   */
  async save(descriptor: SpaceDescriptor): Promise<string> {
    const spaceId = spaceIdOf(descriptor)
    const path = this.path(spaceId)
    const json: DescriptorJson = { v: 1, owner: toHex(descriptor.owner), name: descriptor.name }
    const temporary = `${path}.${randomBytes(4).toString('hex')}.tmp`
    await writeFile(temporary, `${JSON.stringify(json)}\n`, { mode: 0o600 })
    try {
      await rename(temporary, path)
    } catch (error) {
      await rm(temporary, { force: true })
      throw error
    }
    return spaceId
  }
}
