/**
 * `npm start`: environment → configuration (and the TLS files, if any) → STUN responder +
 * HTTP(S)/WebSocket server. Logs (JSON lines on stdout, `signaling/log.ts`) the URLs to open,
 * where STUN answers and how TURN and TLS are set up (never a secret, credential or key).
 * SIGTERM/SIGINT close every socket with 1001 and exit 0 within {@link SHUTDOWN_TIMEOUT_MS}, or
 * exit 1 if something had to be cut short.
 */
import { X509Certificate } from 'node:crypto';
import { networkInterfaces } from 'node:os';
import { canonicalHost } from '../common/ip-address.ts';
import {
  ConfigError,
  loadConfig,
  readTlsCredentials,
  serverSettings,
  type ServerConfig,
  type TlsCredentials,
} from './config.ts';
import { installLastResort } from './last-resort.ts';
import { createLogger, type Logger } from './log.ts';
import { createRedisDirectory } from './redis-rooms.ts';
import type { DirectoryFactory } from './rooms.ts';
import { createSignalingServer } from './server.ts';
import {
  offerableAfterBinding,
  planStunAddresses,
  type StunAddressPlan,
} from './stun-addresses.ts';
import { startStunService, type StunResponder } from './stun.ts';

/** Longest a shutdown may take before the process exits anyway (with status 1), ms. */
const SHUTDOWN_TIMEOUT_MS = 5 * 1000;

/** The URLs a person can open for a server bound to `host`:`port` (`https` with TLS). */
function urlsFor(scheme: 'http' | 'https', host: string, port: number): string[] {
  const wildcard = host === '0.0.0.0' || host === '::';
  const hosts = wildcard
    ? Object.values(networkInterfaces())
        .flat()
        .filter((nic) => nic && (nic.family === 'IPv4' || host === '::') && !nic.internal)
        .map((nic) => nic!.address)
    : [host];
  if (wildcard) hosts.unshift('localhost');
  return hosts.map((h) => `${scheme}://${h.includes(':') ? `[${h}]` : h}:${port}/`);
}

/**
 * Starts the STUN responder on both ports, on the alternate address and on each address of
 * `plan.bind` (signaling/stun-addresses.ts). A bind error on the alternate address, or on an
 * address of `STUN_ADDRESSES`, means it is not one of this host's: a {@link ConfigError} naming
 * the variable. A discovered address that cannot be bound yet (IPv6 duplicate address detection)
 * is left out, and so not offered.
 */
async function startStun(config: ServerConfig, plan: StunAddressPlan): Promise<StunResponder> {
  const altAddress = config.stunAltAddress;
  try {
    return await startStunService({
      host: config.host,
      port: config.stunPort,
      altAddress,
      addresses: plan.bind,
      skipUnavailable: !plan.fromEnv,
    });
  } catch (error) {
    const failedAt: unknown = error instanceof Error ? Reflect.get(error, 'address') : undefined;
    const failed = typeof failedAt === 'string' ? canonicalHost(failedAt) : null;
    const variable =
      altAddress !== null && failed === canonicalHost(altAddress)
        ? 'STUN_ALT_ADDRESS'
        : plan.fromEnv && failed !== null && plan.bind.includes(failed)
          ? 'STUN_ADDRESSES'
          : null;
    if (variable !== null) {
      throw new ConfigError(variable, `cannot bind ${failedAt}: ${(error as Error).message}`);
    }
    throw error;
  }
}

/** One line on TURN for the operator. Names the mode and the URLs, never a secret. */
function describeTurn(config: ServerConfig): string {
  const { turn } = config;
  if (!turn) return 'TURN: off (no TURN_URLS): no relay for when no direct path exists';
  const how =
    turn.auth.kind === 'secret'
      ? `credentials minted per page from TURN_SECRET, valid ${turn.auth.ttlS} s`
      : 'static TURN_USERNAME/TURN_CREDENTIAL';
  return `TURN: ${turn.urls.join(', ')} (${how})`;
}

/** Logs what the certificate is for and until when; warns if browsers will refuse it already. */
function logCertificate(logger: Logger, config: ServerConfig, tls: TlsCredentials): void {
  const cert = new X509Certificate(tls.cert);
  const details = {
    certPath: config.tlsFiles?.certPath,
    subject: cert.subject,
    subjectAltName: cert.subjectAltName,
    validTo: cert.validTo,
  };
  logger.info(details, 'TLS on: serving https:// and wss://');
  if (Date.parse(cert.validTo) < Date.now()) logger.warn(details, 'TLS certificate has expired');
}

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  // Before anything binds: an unreadable or unusable TLS_CERT/TLS_KEY stops start-up here.
  const tls = readTlsCredentials(config.tlsFiles);
  const logger = createLogger(config.logLevel);
  installLastResort(process, logger);
  let stun: StunResponder | null = null;
  let stunAddresses: string[] = [];
  if (config.stunPort !== 0) {
    const plan = planStunAddresses(config.host, config.stunAddresses, networkInterfaces());
    stun = await startStun(config, plan);
    stunAddresses = offerableAfterBinding(plan, stun.addresses);
    const bound = stun.addresses.map((a) => `${a.family} ${a.address}:${a.port}`);
    logger.info(
      {
        addresses: bound,
        offered: stunAddresses,
        from: plan.fromEnv ? 'STUN_ADDRESSES' : 'interfaces',
      },
      'STUN responder listening',
    );
    const unbound = plan.offer.filter((address) => !stunAddresses.includes(address));
    if (unbound.length > 0) {
      logger.warn({ unbound }, 'STUN: could not bind these addresses yet; not offering them');
    }
  }
  logger.info(describeTurn(config));
  if (tls) logCertificate(logger, config, tls);
  // REDIS_URL: rooms shared with every process on that Redis (issue #12); it connects in the
  // background, and until it does `/healthz` answers 503 and joins are asked to retry.
  const { redisUrl } = config;
  const directory: DirectoryFactory | undefined =
    redisUrl === null
      ? undefined
      : (hooks) =>
          createRedisDirectory({ url: redisUrl, capacity: config.roomCapacity, logger }, hooks);
  const server = createSignalingServer({
    ...serverSettings(config),
    stunAddresses,
    tls,
    logger,
    directory,
  });
  const address = await server.listen(config.port, config.host);
  const urls = urlsFor(tls ? 'https' : 'http', config.host, address.port);
  logger.info({ urls }, 'chat server ready; open a url');
  // A person at a terminal gets the URLs in plain words too; log collectors (no TTY) get JSON only.
  if (process.stdout.isTTY)
    console.log(`\nChat server ready. Open:\n${urls.map((u) => `  ${u}`).join('\n')}\n`);
  onShutdownSignal(logger, () => Promise.all([server.close(), stun?.close()]));
}

/**
 * On the first SIGTERM or SIGINT: `stop()`, then exit 0; exit 1 if it fails or takes longer
 * than {@link SHUTDOWN_TIMEOUT_MS}. Later signals are ignored: `tsx` forwards the signal it gets
 * to this process, which a signal to the whole process group has already reached.
 */
function onShutdownSignal(logger: Logger, stop: () => Promise<unknown>): void {
  let stopping = false;
  const handle = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    setTimeout(() => {
      logger.error({ timeoutMs: SHUTDOWN_TIMEOUT_MS }, 'shutdown timed out; exiting anyway');
      process.exit(1);
    }, SHUTDOWN_TIMEOUT_MS).unref();
    stop().then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', handle);
  process.on('SIGTERM', handle);
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    console.error(`Configuration error: ${error.message}`);
  } else {
    console.error(error);
  }
  process.exit(1);
});
