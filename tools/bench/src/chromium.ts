// How every test and benchmark launches Debian's Chromium (installed by `npm test` when missing).

/** The Chromium binary; `MENDSYNC_CHROMIUM` points elsewhere. */
export const CHROMIUM_PATH = process.env.MENDSYNC_CHROMIUM ?? '/usr/bin/chromium'

/**
 * Launch options for playwright-core. `--no-sandbox` because CI runs as root; the
 * background-networking flags because this machine's closed network refuses Chromium's own
 * connections, many at a time.
 */
export const CHROMIUM_LAUNCH_OPTIONS = {
  executablePath: CHROMIUM_PATH,
  headless: true,
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
}
