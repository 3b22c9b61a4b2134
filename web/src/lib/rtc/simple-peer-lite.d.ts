/**
 * Types for `@thaunknown/simple-peer/lite.js` 10.x, which ships none: only what {@link PeerLink}
 * (peer.ts) and the data-channel bench (bench/browser/harness.ts) use. The shapes follow the package's README and `lite.js`; `_pc` and `_channel` are
 * its RTCPeerConnection and RTCDataChannel, public fields in the source though undocumented.
 */
declare module '@thaunknown/simple-peer/lite.js' {
  /** What the `signal` event emits and `signal()` takes: an SDP, a candidate or a renegotiate ask. */
  type SimplePeerSignal = object;

  interface SimplePeerOptions {
    initiator?: boolean;
    trickle?: boolean;
    /** Text arrives as strings, not bytes. */
    objectMode?: boolean;
    config?: RTCConfiguration;
  }

  interface SimplePeerError extends Error {
    /** e.g. `ERR_ICE_CONNECTION_FAILURE`, `ERR_DATA_CHANNEL`. */
    code?: string;
  }

  export default class SimplePeer {
    constructor(options?: SimplePeerOptions);
    readonly _pc: RTCPeerConnection;
    readonly _channel: RTCDataChannel;
    /** The data channel is open. */
    readonly connected: boolean;
    /** The data channel's `bufferedAmount`, bytes (0 before it opens). */
    readonly bufferSize: number;
    signal(data: SimplePeerSignal): void;
    send(chunk: string | ArrayBufferView | ArrayBuffer | Blob): void;
    destroy(error?: Error): void;
    /** The Duplex stream's write (streamx): `false` until `drain` when 64 KiB are queued. */
    write(chunk: string | Uint8Array): boolean;
    on(event: 'signal', listener: (data: SimplePeerSignal) => void): this;
    on(event: 'connect' | 'close', listener: () => void): this;
    on(event: 'data', listener: (chunk: string | Uint8Array) => void): this;
    on(event: 'error', listener: (error: SimplePeerError) => void): this;
    once(event: 'connect' | 'close' | 'drain', listener: () => void): this;
  }
}
