// Fault injection: how one message crosses the hub. Without a hook it waits the one-way latency;
// with the test's `schedule` hook it waits until the test delivers it, and a dropped leg of a
// call fails the call with `TIMEOUT`, as it would at its deadline.
import { MendsyncError } from '@mendsync/core'
import type { Route, ScheduledMessage } from './options.js'

/** Waits `latencyMs` (at least one macrotask). */
export function latency(latencyMs: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, latencyMs))
}

/** Hands one leg of a call to `schedule`: resolves on its first `deliver()`, rejects on `drop()`. */
export function scheduledLeg(
  schedule: (message: ScheduledMessage) => void,
  route: Route,
): Promise<void> {
  return new Promise((resolve, reject) => {
    let done = false
    schedule({
      ...route,
      deliver: () => {
        if (done) return
        done = true
        resolve()
      },
      drop: () => {
        if (done) return
        done = true
        reject(
          new MendsyncError(
            'TIMEOUT',
            `the ${route.call} ${route.kind} from ${route.from} to ${route.to} was lost`,
          ),
        )
      },
    })
  })
}

/**
 * Hands one gossip message to `schedule`: each `deliver()` runs `deliver` (a duplicate when
 * called again) until `drop()` loses it.
 */
export function scheduledGossip(
  schedule: (message: ScheduledMessage) => void,
  route: Omit<Route, 'kind' | 'call'>,
  deliver: () => void,
): void {
  let lost = false
  schedule({
    ...route,
    kind: 'gossip',
    call: undefined,
    deliver: () => {
      if (!lost) deliver()
    },
    drop: () => {
      lost = true
    },
  })
}
