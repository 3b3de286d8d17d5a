// The relay: a libp2p node (WebSockets, gossipsub, circuit-relay-v2 server) with a persistent
// identity, one file replica per configured space on one mendsync network, allowlists, private
// spaces opened on demand (spaces/), metrics over HTTP, progress lines for long
// reconciliations, and a graceful stop.
import { readFileSync } from 'node:fs'
import { mkdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import {
  createLibp2pNetwork,
  createNodeLibp2p,
  type Libp2pNetwork,
  type MendsyncLibp2p,
  type NodeLibp2pOptions,
  RECONNECT_BASE_MS,
} from '@mendsync/libp2p'
import { loadOrCreateIdentity } from '@mendsync/libp2p/node'
import { openReplica, type Replica } from '@mendsync/replica'
import {
  bootstrapPeerId,
  type RelayConfig,
  type ResolvedRelayConfig,
  resolveRelayConfig,
} from './config.js'
import { createLogger, type RelayLogger } from './log.js'
import {
  createRelayMetrics,
  type MetricsServer,
  type RefusedProtocol,
  serveMetrics,
} from './metrics.js'
import { ProgressReporter } from './progress.js'
import { SpaceGuard } from './space-guard.js'
import { DescriptorFiles } from './spaces/descriptor-files.js'
import { privateSpaceOpener } from './spaces/open-private-space.js'
import {
  SpaceDirectory,
  type SpaceDirectoryStats,
  type SpaceRequest,
} from './spaces/space-directory.js'

/** What {@link startRelay} returns. */
export interface RelayHandle {
  /** The relay's libp2p peer id (stable across restarts: it derives from the identity file). */
  readonly peerId: string
  /** The multiaddrs peers dial, each ending with `/p2p/<peerId>`. */
  readonly multiaddrs: readonly string[]
  /** `http://host:port/metrics`, or `undefined` when metrics are off. */
  readonly metricsUrl: string | undefined
  /** `http://host:port/healthz`, or `undefined` when metrics are off. */
  readonly healthUrl: string | undefined
  /** The spaces served. */
  readonly spaces: readonly string[]
  /** The configuration in force (defaults filled in, paths absolute). */
  readonly config: ResolvedRelayConfig
  /**
   * The replica of a space (to embed the relay next to an app, e.g. the cart demo): a configured
   * one, or a private space while it is open.
   */
  replica(space: string): Replica | undefined
  /** The private spaces served on demand; `undefined` with `privateSpaces: false`. */
  readonly privateSpaces: PrivateSpaces | undefined
  /** The mendsync network (its libp2p node is `network.node`). */
  readonly network: Libp2pNetwork
  /**
   * Stops gracefully: `/healthz` turns 503, new inbound connections are refused, writes in
   * flight finish, every replica closes (its storage commits and closes), the network and
   * libp2p stop, the HTTP server closes. Idempotent; resolves when all is done.
   */
  stop(): Promise<void>
}

/** The private spaces a relay serves on demand (see spaces/space-directory.ts). */
export interface PrivateSpaces {
  /**
   * Opens a space for a peer whose proof verified (what the network's `onSpaceRequested` calls);
   * resolves true once it is served, false when refused.
   */
  request(request: SpaceRequest): Promise<boolean>
  /** Opens a space stored earlier by its id alone; false when it is not stored. */
  openStored(spaceId: string): Promise<boolean>
  /** The ids of the private spaces open now, least recently used first. */
  open(): string[]
  /** What the directory counted (the metrics read the same). */
  stats(): SpaceDirectoryStats
}

/** Extra inputs of {@link startRelay} that are not configuration. */
export interface StartRelayOptions {
  /**
   * The relay's `mendsync:relay` logger (default: one built from the config's `logFormat`,
   * `logLevel`, `logStream`); the network and the spaces' replicas log to its children.
   */
  readonly logger?: RelayLogger
  /** Resolves relative paths (default `process.cwd()`). */
  readonly cwd?: string
}

/** The package's version, read once; `0.0.0` (and the error, logged at start) when unreadable. */
const packageVersion: { readonly version: string; readonly error?: unknown } = (() => {
  try {
    const url = new URL('../package.json', import.meta.url)
    const version = (JSON.parse(readFileSync(url, 'utf8')) as { version?: string }).version
    return { version: version ?? '0.0.0' }
  } catch (error) {
    return { version: '0.0.0', error }
  }
})()

/** The relay package's version. */
export const RELAY_VERSION: string = packageVersion.version

/**
 * Inbound connections the relay upgrades (noise handshake, yamux) at once; past it a new one is
 * refused at once and its client retries after its backoff. libp2p's default of 10 admits a
 * reconnect storm (every client of a deployment dialling after a restart) too slowly; 64
 * handshakes at a few ms of CPU each keep one core busy for well under a second, and each
 * pending upgrade holds only a socket and a handshake state. See "Reconnect storms" in the README.
 */
const RELAY_MAX_INCOMING_PENDING_CONNECTIONS = 64

/**
 * Deadline of an inbound upgrade, ms (libp2p's default, kept explicit): long enough for a
 * handshake queued behind a storm on a loaded machine, short enough that a peer which opens a
 * socket and never completes the handshake frees its pending slot soon.
 */
const RELAY_INBOUND_UPGRADE_TIMEOUT_MS = 10_000

/**
 * Shortest wait for a liveness ping's answer before libp2p aborts the connection, ms (libp2p:
 * 5 s). A relay busy with a storm of reconnects and reconciliations can stall for seconds; at
 * 5 s its ping monitor then aborted most clients at once, which dialled again: a storm that
 * feeds itself. A dead client is still found (its socket closes, or its ping times out here).
 */
const RELAY_PING_TIMEOUT_MS = 30_000

/** Most peers whose refusal is remembered (logged once); older ones may be logged again. */
const REFUSED_MEMORY = 10_000

/**
 * Starts a relay with `config` (every option has a default: see {@link RelayConfig}) and returns
 * once it listens and serves every space. On failure everything already started is stopped
 * again and the error is thrown.
 */
export async function startRelay(
  config: RelayConfig = {},
  options: StartRelayOptions = {},
): Promise<RelayHandle> {
  const settings = resolveRelayConfig(config, options.cwd)
  const log =
    options.logger ??
    createLogger({
      format: settings.logFormat,
      level: settings.logLevel,
      ...(config.logStream ? { stream: config.logStream } : {}),
    })
  if (packageVersion.error !== undefined) {
    log.warn('cannot read the relay version from its package.json; reporting 0.0.0', {
      error: packageVersion.error,
    })
  }
  const cleanups: (() => Promise<void>)[] = []
  const undo = async (): Promise<void> => {
    for (const cleanup of cleanups.splice(0).reverse()) {
      await cleanup().catch((error: unknown) => {
        log.warn('undoing part of a failed start failed', { error })
      })
    }
  }
  try {
    return await start(settings, log, cleanups)
  } catch (error) {
    await undo()
    throw error
  }
}

async function start(
  settings: ResolvedRelayConfig,
  log: RelayLogger,
  cleanups: (() => Promise<void>)[],
): Promise<RelayHandle> {
  await mkdir(settings.dataDir, { recursive: true, mode: 0o700 })
  const privateKey = await loadIdentity(settings.identityFile, log)

  let stopping = false
  const openSpace = settings.spaces.some((space) => space.allow === undefined)
  // Set once the private spaces are served: whether a peer proved a right in one open now.
  let provedSomewhere: (peer: string) => boolean = () => false
  const allowedSomewhere = (peer: string): boolean =>
    openSpace ||
    settings.spaces.some((space) => space.allow?.includes(peer)) ||
    provedSomewhere(peer)
  let refused: (peer: string, space: string, protocol: RefusedProtocol) => void = () => {}

  const gater: NonNullable<NodeLibp2pOptions['connectionGater']> = {
    // During shutdown: accept no new connection.
    denyInboundConnection: () => stopping,
    // A circuit-relay reservation is for peers allowed in at least one space (a private one: a
    // peer of it, which it is only once it proved a right there).
    denyInboundRelayReservation: (peer) => {
      const id = peer.toString()
      if (allowedSomewhere(id)) return false
      refused(id, '*', 'relay')
      return true
    },
  }
  let node: MendsyncLibp2p
  try {
    node = await createNodeLibp2p({
      privateKey,
      listen: settings.listen,
      announce: settings.announce,
      bootstrap: settings.bootstrap,
      // A disconnected cluster peer is redialled at the latest every bootstrapRedialMs.
      reconnect: {
        baseMs: Math.min(RECONNECT_BASE_MS, settings.bootstrapRedialMs),
        capMs: settings.bootstrapRedialMs,
        logger: log.child('reconnect'),
      },
      relayServer: settings.circuitRelay ? { maxReservations: settings.maxReservations } : false,
      maxConnections: settings.maxConnections,
      inboundConnectionThreshold: settings.inboundConnectionThreshold,
      maxIncomingPendingConnections: RELAY_MAX_INCOMING_PENDING_CONNECTIONS,
      inboundUpgradeTimeoutMs: RELAY_INBOUND_UPGRADE_TIMEOUT_MS,
      pingTimeoutMs: RELAY_PING_TIMEOUT_MS,
      connectionGater: gater,
    })
  } catch (error) {
    throw new Error(
      `cannot start libp2p on ${settings.listen.join(', ')}: ${(error as Error).message}`,
      { cause: error },
    )
  }
  cleanups.push(async () => {
    await node.stop()
  })
  const peerId = node.peerId.toString()
  const stopCluster = logClusterPeers(node, settings, log)
  cleanups.push(async () => stopCluster())

  const refusedPeers = new Set<string>()
  // Bound once the space directory exists (it needs the network to open spaces).
  let requestSpace: (request: SpaceRequest) => Promise<boolean> = async () => false
  const networkOptions = {
    ...settings.network,
    onRefused: ({ peer, space, protocol }) => refused(peer, space, protocol),
    logger: log.child('network'),
    // The network calls this when a peer presents a valid proof for a private space it has not
    // joined: the directory opens (and joins) it before answering.
    ...(settings.privateSpaces
      ? { onSpaceRequested: (request: SpaceRequest) => requestSpace(request) }
      : {}),
  } satisfies Parameters<typeof createLibp2pNetwork>[1]
  const network = await createLibp2pNetwork(node, networkOptions)
  cleanups.push(() => network.close())

  // Each space's current replica (a guard replaces it when a full disk failed it).
  const replicas = new Map<string, Replica>()
  const guards = new Map<string, SpaceGuard>()
  for (const space of settings.spaces) {
    const guard = await SpaceGuard.open({
      space: space.name,
      directory: join(settings.dataDir, 'spaces'),
      network,
      openReplica: (storage, guardedNetwork) =>
        openReplica({
          ...settings.replica,
          space: space.name,
          storage,
          network: guardedNetwork,
          ...(space.allow === undefined ? {} : { allow: space.allow }),
          logger: log.child('replica').child(space.name),
        }),
      onReplica: (replica) => replicas.set(space.name, replica),
      log,
    })
    guards.set(space.name, guard)
    cleanups.push(() => guard.close())
  }

  const spacesDirectory = join(settings.dataDir, 'spaces')
  let directory: SpaceDirectory | undefined
  if (settings.privateSpaces) {
    await mkdir(spacesDirectory, { recursive: true, mode: 0o700 })
    const opened = await SpaceDirectory.start({
      files: new DescriptorFiles(spacesDirectory),
      open: privateSpaceOpener({
        directory: spacesDirectory,
        network,
        tunables: settings.replica,
        quota: {
          ...(settings.spaceMaxKeys > 0 ? { maxKeys: settings.spaceMaxKeys } : {}),
          ...(settings.spaceMaxBytes > 0 ? { maxBytes: settings.spaceMaxBytes } : {}),
        },
        log,
      }),
      maxOpen: settings.maxOpenSpaces,
      idleMs: settings.spaceIdleMs,
      maxStored: settings.maxStoredSpaces,
      newSpacesPerPeerPerSecond: settings.newSpacesPerSecond,
      logger: log.child('spaces'),
    })
    directory = opened
    requestSpace = (request) => opened.request(request)
    provedSomewhere = (peer) => opened.servesPeer(peer)
    cleanups.push(() => opened.shutdown())
  }
  const privateSpaces: PrivateSpaces | undefined =
    directory === undefined
      ? undefined
      : {
          request: (request) => directory.request(request),
          openStored: (spaceId) => directory.openStored(spaceId, peerId),
          open: () => directory.openSpaces(),
          stats: () => directory.stats(),
        }

  const metrics = createRelayMetrics({
    peerId,
    version: RELAY_VERSION,
    replicas,
    network,
    circuitRelay: settings.circuitRelay,
    degraded: (space) => guards.get(space)?.health().state === 'degraded',
    ...(privateSpaces === undefined ? {} : { privateSpaces: privateSpaces.stats }),
  })
  refused = (peer, space, protocol) => {
    metrics.refused(space, protocol)
    if (refusedPeers.has(peer)) return
    if (refusedPeers.size >= REFUSED_MEMORY) {
      refusedPeers.delete(refusedPeers.values().next().value as string)
    }
    refusedPeers.add(peer)
    log.warn('refused a peer that is not on the allowlist (counted, not logged again)', {
      peer,
      space,
      protocol,
    })
  }
  network.stats().penalties.onBan((peer) => {
    log.warn('banned a misbehaving peer', {
      peer,
      reasons: [...network.stats().penalties.reasons(peer).keys()],
    })
  })

  const startedAt = Date.now()
  const degradedSpaces = () =>
    [...guards]
      .map(([space, guard]) => ({ space, ...guard.health() }))
      .filter((health) => health.state === 'degraded')
  let server: MetricsServer | undefined
  if (settings.metrics) {
    try {
      server = await serveMetrics(
        metrics.registry,
        settings.metricsHost,
        settings.metricsPort,
        () => {
          const degraded = degradedSpaces()
          return {
            // Degraded is still 200: the relay serves reads and keeps its peers' changes moving;
            // only a stopping relay should be taken out of rotation.
            ok: !stopping,
            body: {
              status: stopping ? 'stopping' : degraded.length > 0 ? 'degraded' : 'ok',
              ...(degraded.length > 0 ? { degraded } : {}),
              peerId,
              spaces: [...replicas.keys()],
              ...(privateSpaces === undefined
                ? {}
                : {
                    privateSpaces: {
                      open: privateSpaces.stats().open,
                      stored: privateSpaces.stats().stored,
                    },
                  }),
              connections: node.getConnections().length,
              uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
            },
          }
        },
      )
    } catch (error) {
      throw new Error(
        `cannot serve metrics on ${settings.metricsHost}:${settings.metricsPort}: ${(error as Error).message}`,
        { cause: error },
      )
    }
    const opened = server
    cleanups.push(() => opened.close())
  }

  const progress = new ProgressReporter(replicas, log, settings.progressIntervalMs)
  cleanups.push(async () => progress.stop())

  const multiaddrs = node.getMultiaddrs().map(String)
  log.block(
    'info',
    'relay started',
    {
      peerId,
      multiaddrs,
      spaces: settings.spaces.map((space) => ({ name: space.name, allow: space.allow ?? 'all' })),
      privateSpaces: settings.privateSpaces
        ? { maxOpen: settings.maxOpenSpaces, idleMs: settings.spaceIdleMs }
        : 'off',
      metricsUrl: server?.url ?? null,
      healthUrl: server?.healthUrl ?? null,
      dataDir: settings.dataDir,
      version: RELAY_VERSION,
    },
    [
      `mendsync-relay ${RELAY_VERSION} started`,
      `  peer id     ${peerId}`,
      ...multiaddrs.map((address, i) => `  ${i === 0 ? 'listening  ' : '           '} ${address}`),
      `  spaces      ${settings.spaces
        .map((space) =>
          space.allow === undefined
            ? `${space.name} (open)`
            : `${space.name} (${space.allow.length} peers allowed)`,
        )
        .join(', ')}`,
      `  private     ${
        settings.privateSpaces
          ? `on demand (at most ${settings.maxOpenSpaces} open, closed after ${settings.spaceIdleMs / 1000} s idle)`
          : 'off'
      }`,
      `  metrics     ${server?.url ?? 'off'}`,
      `  health      ${server?.healthUrl ?? 'off'}`,
      `  data        ${settings.dataDir}`,
      ...(settings.bootstrap.length > 0 ? [`  cluster     ${settings.bootstrap.join(', ')}`] : []),
    ],
  )

  let stopped: Promise<void> | undefined
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      stopping = true
      const began = Date.now()
      log.info('stopping: refusing new connections, finishing writes in flight')
      progress.stop()
      stopCluster()
      try {
        await directory?.shutdown()
      } catch (error) {
        log.error('closing the private spaces failed', { error })
      }
      // Closing a replica waits for its writes in flight, leaves the space and commits and
      // closes its file; a push that arrives meanwhile is refused (not acknowledged).
      await Promise.all(
        [...guards].map(async ([space, guard]) => {
          try {
            await guard.close()
          } catch (error) {
            log.error('closing a space failed', { space, error })
          }
        }),
      )
      await network.close().catch((error) => log.error('closing the network failed', { error }))
      try {
        await node.stop()
      } catch (error) {
        log.error('stopping libp2p failed', { error })
      }
      await server?.close()
      cleanups.splice(0)
      log.info('stopped', { ms: Date.now() - began })
    })()
    return stopped
  }

  return {
    peerId,
    multiaddrs,
    metricsUrl: server?.url,
    healthUrl: server?.healthUrl,
    spaces: [...replicas.keys()],
    config: settings,
    replica: (space) => replicas.get(space) ?? directory?.replica(space),
    privateSpaces,
    network,
    stop,
  }
}

async function loadIdentity(path: string, log: RelayLogger) {
  let existed = true
  try {
    const info = await stat(path)
    if ((info.mode & 0o077) !== 0) {
      log.warn('the identity file is readable by other users; chmod 600 it', {
        path,
        mode: (info.mode & 0o777).toString(8),
      })
    }
  } catch (error) {
    existed = false
    // No file yet is the first start; anything else, loadOrCreateIdentity reports below.
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      log.debug('cannot stat the identity file', { path, error })
    }
  }
  const key = await loadOrCreateIdentity(path)
  if (existed) log.debug('loaded the identity', { path })
  else log.info("created a new identity (keep this file: it is the relay's peer id)", { path })
  return key
}

/**
 * Logs the relay's bootstrap peers (the other relays of a cluster) connecting and disconnecting.
 * Keeping them connected is the node's own reconnect service (`keepConnected`), which redials a
 * disconnected one with backoff capped at `bootstrapRedialMs`. Returns the stop function.
 */
function logClusterPeers(
  node: MendsyncLibp2p,
  settings: ResolvedRelayConfig,
  log: RelayLogger,
): () => void {
  if (settings.bootstrap.length === 0) return () => {}
  const wanted = new Set(settings.bootstrap.map(bootstrapPeerId))
  const onConnect = (event: CustomEvent<{ toString(): string }>) => {
    const peer = event.detail.toString()
    if (wanted.has(peer)) log.info('connected to a cluster peer', { peer })
  }
  const onDisconnect = (event: CustomEvent<{ toString(): string }>) => {
    const peer = event.detail.toString()
    if (wanted.has(peer)) log.warn('disconnected from a cluster peer; will dial again', { peer })
  }
  const target = node as unknown as EventTarget
  target.addEventListener('peer:connect', onConnect as EventListener)
  target.addEventListener('peer:disconnect', onDisconnect as EventListener)
  return () => {
    target.removeEventListener('peer:connect', onConnect as EventListener)
    target.removeEventListener('peer:disconnect', onDisconnect as EventListener)
  }
}
