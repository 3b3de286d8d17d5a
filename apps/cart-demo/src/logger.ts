// Where the demo logs what it handles itself (silent unless `localStorage.debug` enables
// `mendsync:*`, as for the packages).
import { defaultLogger } from '@mendsync/core/toolbox'

/** The demo's logger: `mendsync:cart-demo`. */
export const demoLogger = defaultLogger('mendsync:cart-demo')
