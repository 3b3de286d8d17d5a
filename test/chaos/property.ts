// The convergence property, shared by the checker (convergence.test.ts) and its own tests
// (checker.test.ts, which run it against deliberately broken components).
import fc from 'fast-check'
import { commands, config } from './commands.js'
import { World, type WorldOptions } from './world.js'

/** What the runs of a property exercised, summed. */
export class Totals {
  runs = 0
  /** Most rounds of `sync()` a run needed after the heal. */
  maxSyncRounds = 0
  readonly counts: Record<string, number> = {}

  add(counts: Record<string, number>): void {
    for (const [name, count] of Object.entries(counts)) {
      this.counts[name] = (this.counts[name] ?? 0) + count
    }
  }
}

/**
 * One run: open the replicas, run the commands (each checks what it observes), heal, converge,
 * check the end state against the model.
 */
export function convergenceProperty(
  options: WorldOptions & { readonly maxCommands: number; readonly totals?: Totals },
) {
  return fc.asyncProperty(config, commands(options.maxCommands), async (settings, steps) => {
    const world = await World.open(settings, options)
    try {
      await fc.asyncModelRun(() => ({ model: world.model, real: world }), steps)
      const rounds = await world.converge()
      await world.checkFinal()
      const totals = options.totals
      if (totals !== undefined) {
        totals.runs += 1
        totals.maxSyncRounds = Math.max(totals.maxSyncRounds, rounds)
        totals.add({ ops: world.model.ops.length, ...world.stats, ...world.engineTotals() })
      }
    } finally {
      await world.dispose()
    }
  })
}
