/**
 * `npm start`: environment → configuration → STUN responder + HTTP/WebSocket server. Prints the
 * URLs to open, where STUN answers and how TURN is set up (never its secret or credential).
 * SIGINT/SIGTERM close everything and exit.
 */
import { networkInterfaces } from 'node:os';
import { ConfigError, loadConfig, type ServerConfig } from './config.ts';
import { createSignalingServer } from './server.ts';
import { startStunService, type StunResponder } from './stun.ts';

/** The http:// URLs a person can open for a server bound to `host`:`port`. */
function urlsFor(host: string, port: number): string[] {
  const wildcard = host === '0.0.0.0' || host === '::';
  const hosts = wildcard
    ? Object.values(networkInterfaces())
        .flat()
        .filter((nic) => nic && (nic.family === 'IPv4' || host === '::') && !nic.internal)
        .map((nic) => nic!.address)
    : [host];
  if (wildcard) hosts.unshift('localhost');
  return hosts.map((h) => `http://${h.includes(':') ? `[${h}]` : h}:${port}/`);
}

/**
 * Starts the STUN responder on both ports (and the alternate address). A bind error on the
 * alternate address means it is not one of this host's: a {@link ConfigError} naming it.
 */
async function startStun(config: ServerConfig): Promise<StunResponder> {
  const altAddress = config.stunAltAddress;
  try {
    return await startStunService({ host: config.host, port: config.stunPort, altAddress });
  } catch (error) {
    const failedAt: unknown = error instanceof Error ? Reflect.get(error, 'address') : undefined;
    if (altAddress !== null && failedAt === altAddress) {
      throw new ConfigError(
        'STUN_ALT_ADDRESS',
        `cannot bind ${altAddress}: ${(error as Error).message}`,
      );
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

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  let stun: StunResponder | null = null;
  if (config.stunPort !== 0) {
    stun = await startStun(config);
    const bound = stun.addresses.map((a) => `${a.family} ${a.address}:${a.port}`).join(', ');
    console.log(`STUN responder on UDP ${bound}`);
  }
  console.log(describeTurn(config));
  const server = createSignalingServer({
    stunPort: config.stunPort,
    stunAltAddress: config.stunAltAddress,
    iceServers: config.iceServers,
    turn: config.turn,
  });
  const address = await server.listen(config.port, config.host);
  console.log('Chat server ready. Open:');
  for (const url of urlsFor(config.host, address.port)) console.log(`  ${url}`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: shutting down`);
    await Promise.all([server.close(), stun?.close()]);
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    console.error(`Configuration error: ${error.message}`);
  } else {
    console.error(error);
  }
  process.exit(1);
});
