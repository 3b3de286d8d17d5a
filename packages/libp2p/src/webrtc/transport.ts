// The WebRTC transport, loaded on demand: in a browser `@libp2p/webrtc` uses the page's
// RTCPeerConnection; in Node it needs the native `@ipshipyard/node-datachannel` module, whose
// build script the workspace does not run (no native builds), so there it fails to load and the
// node goes on without WebRTC (WebSockets and the relay, as before).
import { describeError, type Logger } from '@mendsync/core/toolbox'

/** The factory `@libp2p/webrtc` exports (`webRTC`), or `undefined` where it cannot load. */
export type WebRTCTransportFactory = typeof import('@libp2p/webrtc').webRTC

/** Loads `@libp2p/webrtc`'s `webRTC`; `undefined` (logged at debug) when this runtime lacks it. */
export async function loadWebRTCTransport(
  logger: Logger,
): Promise<WebRTCTransportFactory | undefined> {
  try {
    return (await import('@libp2p/webrtc')).webRTC
  } catch (error) {
    logger.debug('WebRTC is not available here; direct connections are off', {
      error: describeError(error),
    })
    return undefined
  }
}
