/**
 * `npm start`: environment → configuration → STUN responder + HTTP/WebSocket server. Prints the
 * URLs to open. SIGINT/SIGTERM close everything and exit.
 */
import { networkInterfaces } from 'node:os';
import { ConfigError, loadConfig } from './config.ts';
import { createSignalingServer } from './server.ts';
import { startStunResponder, type StunResponder } from './stun.ts';

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

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  let stun: StunResponder | null = null;
  if (config.stunPort !== 0) {
    stun = await startStunResponder({ host: config.host, port: config.stunPort });
    const bound = stun.addresses.map((a) => `${a.family} ${a.address}:${a.port}`).join(', ');
    console.log(`STUN responder on UDP ${bound}`);
  }
  const server = createSignalingServer({
    stunPort: config.stunPort,
    iceServers: config.iceServers,
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
