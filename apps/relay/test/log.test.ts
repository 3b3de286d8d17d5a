// The relay's logger as a sink of the toolbox Logger: its children (handed to the network and the
// replicas) write through the same output and level threshold, with their namespace.
import { PassThrough } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { createLogger, RELAY_NAMESPACE, type RelayLoggerOptions } from '../src/index.js'

function capture(options: RelayLoggerOptions) {
  const stream = new PassThrough()
  const chunks: string[] = []
  stream.on('data', (chunk: Buffer) => chunks.push(chunk.toString()))
  return { log: createLogger({ ...options, stream }), stream, chunks }
}

describe('the relay logger', () => {
  it('is the mendsync:relay logger, and its children write their namespace in text lines', () => {
    const { log, chunks } = capture({ format: 'text', level: 'info' })
    expect(log.namespace).toBe(RELAY_NAMESPACE)
    const network = log.child('network')
    expect(network.namespace).toBe('mendsync:relay:network')
    network.debug('below the threshold')
    network.warn('a dial failed', { peer: 'p', error: new Error('refused') })
    log.info('own line')
    expect(chunks).toHaveLength(2)
    expect(chunks[0]).toMatch(
      /^\S+Z WARN {2}mendsync:relay:network a dial failed peer=p error="refused"\n$/,
    )
    expect(chunks[1]).toMatch(/^\S+Z INFO {2}own line\n$/)
  })

  it('gives child entries an ns property in JSON lines, and none to its own', () => {
    const { log, chunks } = capture({ format: 'json', level: 'debug' })
    log.child('replica').child('demo').debug('handoff delivered', { peer: 'p' })
    log.info('own line')
    const [child, own] = chunks.map((chunk) => JSON.parse(chunk) as Record<string, unknown>)
    expect(child).toMatchObject({
      level: 'debug',
      ns: 'mendsync:relay:replica:demo',
      msg: 'handoff delivered',
      peer: 'p',
    })
    expect(own).toMatchObject({ level: 'info', msg: 'own line' })
    expect(own).not.toHaveProperty('ns')
  })

  it('writes nothing at all, children included, when silent', () => {
    const { log, stream, chunks } = capture({ format: 'text', level: 'silent' })
    expect(log.enabled('error')).toBe(false)
    log.child('network').error('not written')
    log.error('not written')
    log.block('info', 'banner', {}, ['not written'])
    // A line of another logger on the same stream, written after them, is the only one there.
    createLogger({ format: 'text', stream }).info('written')
    expect(chunks).toHaveLength(1)
    expect(chunks[0]).toMatch(/INFO {2}written\n$/)
  })
})
