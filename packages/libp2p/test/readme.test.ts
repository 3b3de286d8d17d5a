// The README's option tables and the options' TSDoc show the defaults of
// src/constants.defaults.ts: a default changed in one place only fails here.
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import {
  ACCESS_DEFAULTS,
  DEFAULT_GOSSIP_LIMITS,
  NETWORK_DEFAULTS,
  PENALTY_DEFAULTS,
} from '../src/constants.defaults.js'

const read = (path: string) => readFileSync(new URL(path, import.meta.url), 'utf8')
const README = read('../README.md')

const KiB = 1024
const MiB = 1024 * 1024

/** A default as the docs write it: `4 MiB`, `64 KiB`, `10_000`, `4096`, `false`. */
function formatDefault(name: string, value: number | boolean): string {
  if (typeof value === 'boolean') return String(value)
  if (name.endsWith('Bytes') && value % MiB === 0) return `${value / MiB} MiB`
  if (name.endsWith('Bytes') && value % KiB === 0) return `${value / KiB} KiB`
  return value >= 10_000 ? value.toLocaleString('en-US').replaceAll(',', '_') : String(value)
}

/** The rows (name -> default cell) of the first table after `heading` in the README. */
function tableAfter(heading: string): Map<string, string> {
  const start = README.indexOf(heading)
  if (start < 0) throw new Error(`the README has no "${heading}"`)
  const rows = new Map<string, string>()
  let inTable = false
  for (const line of README.slice(start + heading.length).split('\n')) {
    if (line.startsWith('|')) {
      inTable = true
      const cells = line.split('|').map((cell) => cell.trim())
      const name = /^`(\w+)`$/.exec(cells[1] ?? '')?.[1]
      if (name) rows.set(name, cells[2] ?? '')
    } else if (inTable) {
      break
    }
  }
  return rows
}

/** The TSDoc comment right before `readonly <name>?:` in `source`. */
function docOf(source: string, name: string): string {
  const at = source.indexOf(`readonly ${name}?:`)
  if (at < 0) throw new Error(`no option ${name}`)
  const end = source.lastIndexOf('*/', at)
  const start = source.lastIndexOf('/**', end)
  return source.slice(start, end)
}

const tables = [
  [
    'network options',
    '### `createLibp2pNetwork(node, options)`',
    NETWORK_DEFAULTS,
    '../src/network/options.ts',
  ],
  ['gossip limits', 'Gossip limits (`DEFAULT_GOSSIP_LIMITS`', DEFAULT_GOSSIP_LIMITS, undefined],
  ['private-space numbers', 'Private-space numbers (`ACCESS_DEFAULTS`', ACCESS_DEFAULTS, undefined],
  [
    'penalty options',
    'Penalty book (`PeerPenaltyOptions`',
    PENALTY_DEFAULTS,
    '../src/penalties.ts',
  ],
] as const

describe('the README and the options docs', () => {
  for (const [what, heading, defaults, source] of tables) {
    it(`show every default of the ${what} as the constants hold it`, () => {
      const rows = tableAfter(heading)
      const doc = source === undefined ? undefined : read(source)
      for (const [name, value] of Object.entries(defaults)) {
        const shown = `\`${formatDefault(name, value)}\``
        expect(rows.get(name), `README row of ${name}`).toBe(shown)
        if (doc !== undefined)
          expect(docOf(doc, name), `TSDoc of ${name}`).toContain(`Default ${shown}`)
      }
    })
  }
})
