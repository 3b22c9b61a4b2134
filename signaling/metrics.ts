/**
 * `/metrics` in Prometheus text format, through prom-client. One registry per server instance, so
 * tests (and several servers in one process) never share counters.
 */
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';

/** Why the server refused a socket or a frame; the `reason` label of `signaling_rejections_total`. */
export type RejectionReason =
  | 'malformed'
  | 'binary'
  | 'out-of-order'
  | 'room-full'
  | 'too-large'
  | 'rate-limited'
  | 'origin'
  | 'too-many-sockets'
  | 'too-many-from-ip'
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
