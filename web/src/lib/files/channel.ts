/**
 * The data channel files travel on (issue #11). `rtc/peer.ts` opens it with every peer
 * connection, so these live apart from the file protocol, which is loaded with the first file
 * (issue #13).
 */

/** Label of the data channel files travel on (its own SCTP stream, so chat never waits behind a chunk). */
export const FILES_CHANNEL_LABEL = 'files';

/**
 * SCTP stream id of the `files` channel. It is negotiated out of band (webrtc-pc §6.1: both
 * sides create it with `negotiated: true` and this id), so no `datachannel` event ever reaches
 * simple-peer, which takes the first one it sees as the chat channel. Auto-assigned ids skip it.
 */
export const FILES_CHANNEL_ID = 3;
