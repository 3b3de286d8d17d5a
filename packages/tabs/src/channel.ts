// The tabs' BroadcastChannel as the protocol sees it: every message posted carries the protocol
// version and the space, and only messages of this version and space reach the handler.
import type { Logger } from '@mendsync/core/toolbox'
import type { TabChannel } from './options.js'
import { type Body, isMessage, type Message, PROTOCOL_VERSION } from './protocol.js'

/** One tab's end of the channel of a space. */
export class TabsChannel {
  readonly #channel: TabChannel
  readonly #space: string
  readonly #logger: Logger
  #closed = false

  /** Calls `onMessage` with every message of this protocol version and space. */
  constructor(
    channel: TabChannel,
    space: string,
    logger: Logger,
    onMessage: (message: Message) => void,
  ) {
    this.#channel = channel
    this.#space = space
    this.#logger = logger
    channel.addEventListener('message', (event) => {
      if (isMessage(event.data, space)) onMessage(event.data)
    })
  }

  /** Posts `body` to the other tabs; nothing once closed. */
  post(body: Body): void {
    if (this.#closed) return
    try {
      this.#channel.postMessage({ ...body, v: PROTOCOL_VERSION, space: this.#space } as Message)
    } catch (error) {
      // The channel is going away with the tab: nobody is left to tell.
      this.#logger.debug('cannot post on the tabs channel', { error, message: body.t })
    }
  }

  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.#channel.close()
  }
}
