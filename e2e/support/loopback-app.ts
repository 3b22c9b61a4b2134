/**
 * A second app server on loopback with settings of its own (e.g. `ROOM_SIZE`), for specs that
 * need other limits than Playwright's `webServer`; started as `npm start` runs it (page prebuilt).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

/** A running server: its base URL and how to stop it. */
export interface LoopbackApp {
  /** e.g. `http://127.0.0.1:18081`. */
  url: string;
  /** Stops it with SIGTERM (a graceful close: sockets get a close frame). */
  stop(): Promise<void>;
  /** Kills it with SIGKILL, as a crash would: no close frames, the kernel resets its sockets. */
  kill(): Promise<void>;
}

/**
 * Starts `signaling/main.ts` on 127.0.0.1:`port` (STUN on `stunPort`, `stunPort + 1`) with `env`
 * added, and waits until `/healthz` answers (at most 15 s).
 * @throws Error with the server's output if it does not come up.
 */
export async function startLoopbackApp(
  port: number,
  stunPort: number,
  env: Record<string, string>,
): Promise<LoopbackApp> {
  const child: ChildProcess = spawn('node_modules/.bin/tsx', ['signaling/main.ts'], {
    cwd: REPO,
    env: {
      ...process.env,
      HOST: '127.0.0.1',
      PORT: String(port),
      STUN_PORT: String(stunPort),
      LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group: `tsx` runs the server in a child node, and `kill` must reach both.
    detached: true,
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const url = `http://127.0.0.1:${port}`;
  const running = () => child.exitCode === null && child.signalCode === null;
  // SIGTERM to tsx, which hands it to the server; SIGKILL cannot be handed on, so the group.
  const stop = async () => {
    if (!running()) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await exited;
  };
  const kill = async () => {
    if (!running()) return;
    const exited = once(child, 'exit');
    process.kill(-child.pid!, 'SIGKILL');
    await exited;
  };
  for (let waited = 0; waited < 15_000; waited += 200) {
    try {
      if ((await fetch(`${url}/healthz`)).ok) return { url, stop, kill };
    } catch {
      // not listening yet
    }
    if (child.exitCode !== null) break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  await stop();
  throw new Error(`app server on ${url} did not start:\n${output}`);
}
