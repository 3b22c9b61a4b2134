/**
 * Benchmark 5: server start-up, from spawning the process to the first accepted WebSocket (the
 * client's `open`), polled every few ms. Ours starts as `npm start` starts it (`tsx
 * signaling/main.ts`, STUN responder included); the baseline is the bare relay started by the same
 * `tsx`, so the difference is our code, not the TypeScript loader both pay for.
 */
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { captureOutput, sleep, spawnBench, stopProcess } from './proc.ts';
import { summarize, type Summary } from './stats.ts';

export type StartupKind = 'ours' | 'bare';

export interface StartupOptions {
  /** Starts per server, alternating. */
  runs: number;
  log: (line: string) => void;
}

export type StartupResult = Record<StartupKind, Summary>;

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TSX = fileURLToPath(new URL('../node_modules/.bin/tsx', import.meta.url));
const POLL_INTERVAL_MS = 5;
const START_TIMEOUT_MS = 20_000;

/** A TCP or UDP port nothing listens on right now (a race we accept on a bench machine). */
async function freePort(kind: 'tcp' | 'udp'): Promise<number> {
  if (kind === 'udp') {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const { port } = socket.address();
    await new Promise<void>((resolve) => socket.close(() => resolve()));
    return port;
  }
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return typeof address === 'object' && address ? address.port : 0;
}

/** Resolves true once a WebSocket to `url` opens, false if it fails (nothing listening yet). */
function tryOpen(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new WebSocket(url);
    socket.on('open', () => {
      socket.terminate();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

async function startOnce(kind: StartupKind): Promise<number> {
  const port = await freePort('tcp');
  const command =
    kind === 'ours'
      ? [TSX, 'signaling/main.ts']
      : [TSX, fileURLToPath(new URL('signaling/bare-relay.ts', import.meta.url))];
  const env: Record<string, string> =
    kind === 'ours'
      ? { HOST: '127.0.0.1', PORT: String(port), STUN_PORT: String(await freePort('udp')) }
      : { PORT: String(port) };
  const url = `ws://127.0.0.1:${port}${kind === 'ours' ? '/ws' : '/'}`;
  const t0 = performance.now();
  const child = spawnBench(command, { cwd: ROOT, env });
  const output = captureOutput(child);
  try {
    while (performance.now() - t0 < START_TIMEOUT_MS) {
      if (child.exitCode !== null)
        throw new Error(`${kind} exited (${child.exitCode}):\n${output()}`);
      if (await tryOpen(url)) return performance.now() - t0;
      await sleep(POLL_INTERVAL_MS);
    }
    throw new Error(`${kind}: no WebSocket accepted within ${START_TIMEOUT_MS} ms:\n${output()}`);
  } finally {
    await stopProcess(child);
  }
}

export async function benchStartup(options: StartupOptions): Promise<StartupResult> {
  const times: Record<StartupKind, number[]> = { ours: [], bare: [] };
  for (let run = 0; run < options.runs; run++) {
    const order: StartupKind[] = run % 2 === 0 ? ['ours', 'bare'] : ['bare', 'ours'];
    for (const kind of order) times[kind].push(await startOnce(kind));
  }
  options.log(
    `start-up: ours ${times.ours.map((t) => t.toFixed(0)).join(', ')} ms; bare ${times.bare.map((t) => t.toFixed(0)).join(', ')} ms`,
  );
  return { ours: summarize(times.ours), bare: summarize(times.bare) };
}
