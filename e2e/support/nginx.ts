/**
 * Debian's nginx as the load balancer in front of several app servers (issue #12): round-robin,
 * the WebSocket upgrade passed on `/ws`, no sticky sessions. The server block is the one the
 * README's "Several servers" section gives, on loopback; the rest only keeps nginx inside a
 * temporary directory (pid, logs, temp files) so the test needs no system configuration.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A running nginx. */
export interface Nginx {
  /** e.g. `http://127.0.0.1:18090` */
  readonly url: string;
  /** Stops it (SIGTERM: at once, open WebSockets cut) and removes its directory. */
  stop(): Promise<void>;
}

/**
 * The configuration: one worker (so round-robin alternates strictly), `upstreams` as
 * `127.0.0.1:<port>` strings, listening on 127.0.0.1:`port`. A refused connection to one upstream
 * is retried on the next (`proxy_next_upstream error`, nginx's default), which is how a page whose
 * process died reaches a live one.
 */
export function nginxConfig(dir: string, port: number, upstreams: readonly string[]): string {
  const servers = upstreams.map((address) => `    server ${address};`).join('\n');
  return `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  # Never spool a response to disk (nginx's workers may not write ${dir} when started as root).
  proxy_max_temp_file_size 0;

  # The same processes twice: each upstream keeps its own round-robin turn, so signaling sockets
  # alternate between the processes however many files each page load fetches.
  upstream signaling {
${servers}
  }
  upstream page {
${servers}
  }
  map $http_upgrade $connection_upgrade {
    default upgrade;
    '' close;
  }
  server {
    listen 127.0.0.1:${port};
    location /ws {
      proxy_pass http://signaling;
      proxy_http_version 1.1;
      proxy_set_header Host $http_host;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_read_timeout 1h;
    }
    location / {
      proxy_pass http://page;
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }
  }
}
`;
}

/** Whether something accepts TCP on 127.0.0.1:`port`. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Starts `nginx` (`NGINX` overrides the binary) in the foreground with {@link nginxConfig};
 * resolves once it accepts connections (at most 10 s).
 * @throws Error when the binary is missing (install: `apt-get install nginx`) or nginx does not
 *   come up, with its error log.
 */
export async function startNginx(port: number, upstreams: readonly string[]): Promise<Nginx> {
  const dir = mkdtempSync(join(tmpdir(), 'hp-nginx-'));
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, nginxConfig(dir, port, upstreams));
  const binary = process.env.NGINX ?? '/usr/sbin/nginx';
  const child: ChildProcess = spawn(
    binary,
    ['-p', dir, '-c', conf, '-e', join(dir, 'error.log'), '-g', 'daemon off;'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  for (let waited = 0; waited < 10_000; waited += 100) {
    const failed = await Promise.race([
      spawnError,
      new Promise<null>((resolve) => setTimeout(() => resolve(null), 100)),
    ]);
    if (failed) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(
        `cannot run ${binary} (${failed.message}); install it: apt-get install nginx`,
      );
    }
    if (child.exitCode !== null) break;
    if (await accepts(port)) return { url: `http://127.0.0.1:${port}`, stop };
  }
  let log = output;
  try {
    log += readFileSync(join(dir, 'error.log'), 'utf8');
  } catch {
    // no log written
  }
  await stop();
  throw new Error(`nginx on 127.0.0.1:${port} did not start:\n${log}`);
}
