/**
 * Our signaling server alone, for the load bench: `createSignalingServer` with the options
 * `npm start` gives it by default (STUN advertised on 3478, ICE servers from the page's host),
 * minus the STUN responder itself, which is UDP and not under load here. Prints `listening <port>`.
 *
 * The hardening limits are lifted, not switched off: the bench opens 10,000 sockets (over the
 * `maxSockets` default) and sends each up to ~20 frames/s (at the `rateMessagesPerS` default; the
 * byte budget and the send-queue bound are lifted likewise), but
 * every check still runs, so its cost is measured. (Sockets come from 127.x.y.z addresses, 20
 * each, below the `maxSocketsPerIp` default anyway.) Env `BENCH_SERVER_OPTIONS`, JSON, is merged
 * over the options last, for a limit this file does not know yet.
 */
import { createSignalingServer, type SignalingServerOptions } from '../../signaling/server.ts';

/** High enough never to bind under the bench's load. */
const UNREACHED = 1_000_000;

const options: SignalingServerOptions = {
  stunPort: 3478,
  iceServers: null,
  maxSockets: UNREACHED,
  maxSocketsPerIp: UNREACHED,
  rateMessagesPerS: UNREACHED,
  rateBurst: UNREACHED,
  rateBytesPerS: UNREACHED * 1024,
  rateBytesBurst: UNREACHED * 1024,
  // A saturated load generator may lag behind its sockets for a moment; never 4009 here.
  maxBufferedBytes: 64 * 1024 * 1024,
  ...(JSON.parse(process.env.BENCH_SERVER_OPTIONS ?? '{}') as object),
};
const server = createSignalingServer(options);
const address = await server.listen(Number(process.env.PORT ?? 0), '127.0.0.1');
console.log(`listening ${address.port}`);
// A normal exit, so that `--cpu-prof` writes its profile.
process.on('SIGTERM', () => process.exit(0));
