/**
 * A real `redis-server` for tests (issue #12: the Redis directory is tested against Redis, not a
 * fake), on a free loopback port, with no persistence. Debian's `redis-server` package; `.ci/run`
 * and `scripts/setup.sh` install it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { freePort } from './free-port.ts';

/** A running test Redis. */
export interface TestRedis {
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** Stops it (SIGKILL: data gone, as after a crash). Resolves once the process has exited. */
  stop(): Promise<void>;
  /** Starts it again on the same port, empty. */
  start(): Promise<void>;
}

/**
 * Starts `redis-server` (`REDIS_SERVER` overrides the binary) on a free port; resolves when it
 * accepts connections.
 * @throws {Error} when the binary is missing (install: `apt-get install redis-server`) or it
 *   does not come up within 10 s.
 */
export async function startTestRedis(): Promise<TestRedis> {
  const port = await freePort();
  const binary = process.env.REDIS_SERVER ?? 'redis-server';
  let child: ChildProcess | null = null;
  const start = () =>
    new Promise<void>((resolve, reject) => {
      const proc = spawn(
        binary,
        ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      child = proc;
      let output = '';
      const timer = setTimeout(() => {
        proc.kill('SIGKILL');
        reject(new Error(`redis-server did not start within 10 s:\n${output}`));
      }, 10_000);
      proc.once('error', (error) => {
        clearTimeout(timer);
        reject(
          new Error(
            `cannot run ${binary} (${error.message}); install it: apt-get install redis-server`,
          ),
        );
      });
      proc.stdout?.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    start,
    stop: () =>
      new Promise<void>((resolve) => {
        const proc = child;
        if (!proc || proc.exitCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGKILL');
      }),
  };
}
