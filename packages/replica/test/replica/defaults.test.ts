// The README's option and bounds tables derive from `constants.defaults.ts`: this test fails when
// a default changes and the table does not follow.
import { readFileSync } from 'node:fs'
import { DEFAULT_REPLICA_OPTIONS } from '@mendsync/replica'
import { describe, expect, it } from 'vitest'
import * as defaults from '../../src/replica/constants.defaults.js'

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')

/** The first two cells of every table row whose first cell is a backticked name. */
function tableRows(): Map<string, string> {
  const rows = new Map<string, string>()
  for (const line of readme.split('\n')) {
    const match = /^\| `([A-Za-z_]+)` \| ([^|]+) \|/.exec(line)
    if (match) rows.set(match[1] as string, (match[2] as string).trim())
  }
  return rows
}

/** A default cell as a value: `'async'` -> 'async', `true` -> true, `86400000 (24 h)` -> 86400000. */
function parseCell(cell: string): unknown {
  const text = cell.replace(/`/g, '')
  if (text === 'true' || text === 'false') return text === 'true'
  const quoted = /^'([^']*)'$/.exec(text)
  if (quoted) return quoted[1]
  const number = /^(\d+)/.exec(text)
  return number ? Number(number[1]) : text
}

describe('README tables', () => {
  const rows = tableRows()

  it('state every tunable default exactly as DEFAULT_REPLICA_OPTIONS holds it', () => {
    for (const [name, value] of Object.entries(DEFAULT_REPLICA_OPTIONS)) {
      const cell = rows.get(name)
      expect(cell, `README option row for ${name}`).toBeDefined()
      expect(parseCell(cell as string), name).toEqual(value)
    }
  })

  it('state every fixed bound exactly as constants.defaults.ts holds it', () => {
    // A constant named after an option (MAX_CONCURRENT_REPAIRS_PER_PEER: maxConcurrentRepairsPerPeer)
    // is that option's default; every other constant is a fixed bound.
    const camel = (name: string) =>
      name.toLowerCase().replace(/_([a-z])/g, (_, letter: string) => letter.toUpperCase())
    const bounds = Object.entries(defaults).filter(
      ([name]) => !Object.hasOwn(DEFAULT_REPLICA_OPTIONS, camel(name)),
    )
    expect(bounds.length).toBeGreaterThan(0)
    for (const [name, value] of bounds) {
      const cell = rows.get(name)
      expect(cell, `README bounds row for ${name}`).toBeDefined()
      expect(parseCell(cell as string), name).toEqual(value)
    }
  })
})
