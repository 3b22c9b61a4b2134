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
 *
 * Env `REDIS_URL`: rooms live in Redis, as `npm start` has them then (signaling/main.ts, issue
 * #12), and `listening` is printed only once the directory reaches Redis, since joins are refused
 * until it does. Env `BENCH_REDIS_OPTIONS`, JSON, is merged over the directory's options (e.g.
 * `{"leaseRefreshMs":3600000}` to see what the lease refresh costs).
 */
import { createLogger } from '../../signaling/log.ts';
import { createRedisDirectory } from '../../signaling/redis-rooms.ts';
import type { RoomDirectory } from '../../signaling/rooms.ts';
import { createSignalingServer, type SignalingServerOptions } from '../../signaling/server.ts';

/** High enough never to bind under the bench's load. */
const UNREACHED = 1_000_000;
/** Longest the Redis directory may take to connect, ms. */
const REDIS_READY_TIMEOUT_MS = 10 * 1000;
const REDIS_POLL_MS = 20;

// The server's default logger, made here so that the Redis directory shares it as in main.ts.
const logger = createLogger();
const redisUrl = process.env.REDIS_URL;
/** The Redis directory, once the server has made it. */
const redis: { directory: RoomDirectory | null } = { directory: null };

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
  logger,
  ...(redisUrl
    ? {
        directory: (hooks) =>
          (redis.directory = createRedisDirectory(
            {
              url: redisUrl,
              logger,
              ...(JSON.parse(process.env.BENCH_REDIS_OPTIONS ?? '{}') as object),
            },
            hooks,
          )),
      }
    : {}),
  ...(JSON.parse(process.env.BENCH_SERVER_OPTIONS ?? '{}') as object),
};
const server = createSignalingServer(options);
const address = await server.listen(Number(process.env.PORT ?? 0), '127.0.0.1');
for (const deadline = Date.now() + REDIS_READY_TIMEOUT_MS; redis.directory?.health();) {
  if (Date.now() > deadline) throw new Error(`no Redis within ${REDIS_READY_TIMEOUT_MS} ms`);
  await new Promise((resolve) => setTimeout(resolve, REDIS_POLL_MS));
}
console.log(`listening ${address.port}`);
// A normal exit, so that `--cpu-prof` writes its profile.
process.on('SIGTERM', () => process.exit(0));
