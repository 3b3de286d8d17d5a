import type { SpaceEvents } from './types.js'

/** The events every {@link SpaceChannel} emits; `on` refuses any other name. */
export const SPACE_EVENT_NAMES: readonly (keyof SpaceEvents)[] = Object.freeze([
  'peer:connect',
  'peer:disconnect',
  'gossip',
])
