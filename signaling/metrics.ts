/**
 * `/metrics` in Prometheus text format, through prom-client. One registry per server instance, so
 * tests (and several servers in one process) never share counters.
 */
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';

/** Why the server refused a socket or a frame; the `reason` label of `signaling_rejections_total`. */
export type RejectionReason =
  /** Close 4000: not JSON, or not a client message. */
  | 'malformed'
  /** Close 4000: past the structural JSON bounds (too deep, too many items), before parsing. */
  | 'too-complex'
  /** Close 4009: what was queued for the socket passed `maxBufferedBytes`. */
  | 'slow-reader'
  /** Close 1011: a handler of ours threw on this socket's frame; the others carry on. */
  | 'internal-error'
  /** An HTTP connection over `maxHttpConnectionsPerIp`: answered 429 and closed. */
  | 'too-many-connections'
  /** Close 4001. */
  | 'binary'
  /** Close 4002. */
  | 'out-of-order'
  /** Close 4003, after an `error` message. */
  | 'room-full'
  /** Close 1009 (ws `maxPayload`). */
  | 'too-large'
  /** Any other WebSocket-level violation ws closes for: 1007 (text not UTF-8), 1002. */
  | 'protocol-error'
  /** Close 4008: over the message or the byte rate. */
  | 'rate-limited'
  /** Close 1013: a join while the shared room store (Redis) cannot be reached. */
  | 'unavailable'
  /** A `signal` to a peer not in the sender's room: an `error` message, the socket stays. */
  | 'unknown-peer'
  /** Upgrade answered with HTTP 403. */
  | 'origin'
  /** Upgrade answered with HTTP 503. */
  | 'too-many-sockets'
  /** Upgrade answered with HTTP 429. */
  | 'too-many-from-ip'
  /** No pong for 1.5 heartbeat intervals: cut without a close frame. */
  | 'heartbeat';

/** The server's instruments. */
export interface SignalingMetrics {
  readonly registry: Registry;
  /** Open signaling sockets. */
  readonly sockets: Gauge;
  /** Rooms with at least one person. */
  readonly rooms: Gauge;
  /** Messages relayed from one peer to the other. */
  readonly framesRelayed: Counter;
  /** Refusals, by {@link RejectionReason}. */
  readonly rejections: Counter<'reason'>;
}

/** Creates a fresh registry with the server's instruments and Node's process metrics (RSS, CPU). */
export function createMetrics(): SignalingMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    sockets: new Gauge({
      name: 'signaling_sockets',
      help: 'Open signaling WebSockets.',
      registers: [registry],
    }),
    rooms: new Gauge({
      name: 'signaling_rooms',
      help: 'Rooms with at least one person.',
      registers: [registry],
    }),
    framesRelayed: new Counter({
      name: 'signaling_frames_relayed_total',
      help: 'Signaling messages relayed between the peers of a room.',
      registers: [registry],
    }),
    rejections: new Counter({
      name: 'signaling_rejections_total',
      help: 'Sockets or frames refused, by reason.',
      labelNames: ['reason'],
      registers: [registry],
    }),
  };
}
