/**
 * Benchmark 5: server start-up, from spawning the process to the first accepted WebSocket (the
 * client's `open`), polled every few ms. Ours starts as `npm start` starts it (`tsx
 * signaling/main.ts`, STUN responder included); the baseline is the bare relay started by the same
 * `tsx`, so the difference is our code, not the TypeScript loader both pay for.
 */
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { freePort } from '../signaling/testing/free-port.ts';
import { captureOutput, sleep, spawnBench, stopProcess } from './proc.ts';
import { PEERJS_ARGS } from './signaling-load.ts';
import { PEERJS_KEY, PEERJS_PATH } from './signaling/load-worker.ts';
import { summarize, type Summary } from './stats.ts';

/** The servers bench/peers-load.ts compares too (issue #15), started as their READMEs say. */
export type StartupKind = 'ours' | 'bare' | 'peerjs' | 'y-webrtc';

export interface StartupOptions {
  /** Starts per server, alternating. */
  runs: number;
  log: (line: string) => void;
}

export type StartupResult = Record<'ours' | 'bare', Summary>;

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TSX = fileURLToPath(new URL('../node_modules/.bin/tsx', import.meta.url));
const PEERJS_BIN = fileURLToPath(new URL('../node_modules/.bin/peerjs', import.meta.url));
const Y_WEBRTC_SERVER = fileURLToPath(
  new URL('../node_modules/y-webrtc/bin/server.js', import.meta.url),
);
const POLL_INTERVAL_MS = 5;
const START_TIMEOUT_MS = 20_000;

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
  const commands: Record<StartupKind, { command: string[]; env: Record<string, string> }> = {
    ours: {
      command: [TSX, 'signaling/main.ts'],
      env: { HOST: '127.0.0.1', PORT: String(port), STUN_PORT: String(await freePort('udp')) },
    },
    bare: {
      command: [TSX, fileURLToPath(new URL('signaling/bare-relay.ts', import.meta.url))],
      env: { PORT: String(port) },
    },
    // Plain node, as their READMEs start them: no TypeScript loader to pay for.
    peerjs: { command: [PEERJS_BIN, '--port', String(port), ...PEERJS_ARGS], env: {} },
    'y-webrtc': { command: [process.execPath, Y_WEBRTC_SERVER], env: { PORT: String(port) } },
  };
  const { command, env } = commands[kind];
  const paths: Record<StartupKind, string> = {
    ours: '/ws',
    bare: '/',
    peerjs: `${PEERJS_PATH}?key=${PEERJS_KEY}&id=startup&token=t`,
    'y-webrtc': '/',
  };
  const url = `ws://127.0.0.1:${port}${paths[kind]}`;
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

/** Start-up times of `kinds`, `runs` starts each, the order rotating. */
export async function measureStartups<K extends StartupKind>(
  kinds: readonly K[],
  options: StartupOptions,
): Promise<Record<K, Summary>> {
  const times = new Map<K, number[]>(kinds.map((kind) => [kind, []]));
  for (let run = 0; run < options.runs; run++) {
    const order = kinds.map((_, i) => kinds[(i + run) % kinds.length]!);
    for (const kind of order) times.get(kind)!.push(await startOnce(kind));
  }
  options.log(
    `start-up: ${kinds
      .map(
        (kind) =>
          `${kind} ${times
            .get(kind)!
            .map((t) => t.toFixed(0))
            .join(', ')} ms`,
      )
      .join('; ')}`,
  );
  return Object.fromEntries(kinds.map((kind) => [kind, summarize(times.get(kind)!)])) as Record<
    K,
    Summary
  >;
}

export function benchStartup(options: StartupOptions): Promise<StartupResult> {
  return measureStartups(['ours', 'bare'], options);
}
