/**
 * Benchmark 1: signaling under load, our server against a bare `ws` relay
 * (bench/signaling/bare-relay.ts), side by side in the same run under the same load.
 *
 * Each round starts both servers, each with its own load workers (bench/signaling/load-worker.ts,
 * separate processes), and ramps each to `sockets` sockets in two-person rooms, reading the
 * server's RSS before and after. Then candidate-sized frames are relayed: an open-loop ladder of
 * fixed rates, each step run on one server and straight after on the other (a server leaves the
 * ladder at its first rate whose p99 reaches the limit, that loses frames, or that its workers
 * cannot send, twice in a row), then a closed loop with one frame in flight per direction per
 * room, for the saturated throughput. Every wait is bounded; every process is stopped.
 *
 * `BENCH_PIN=1` pins servers to CPU 0 and workers to CPU 1. Off by default: on a shared machine
 * another busy process on CPU 0 would starve the server while CPU 1 idles.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { freePort } from '../signaling/testing/free-port.ts';
import {
  captureOutput,
  cpuTimeMs,
  cpuTimes,
  rssBytes,
  sleep,
  spawnBench,
  stopProcess,
  waitForLine,
  withTimeout,
} from './proc.ts';
import type { ServerKind, WorkerCommand, WorkerReply } from './signaling/load-worker.ts';
import { LatencyHistogram, summarize, type Summary } from './stats.ts';

export type { ServerKind };

export interface LoadOptions {
  /** Sockets in all, two per room. */
  sockets: number;
  /** Open-loop rates to try, relays per second in all, ascending. */
  rates: readonly number[];
  /** Length of each open-loop step, ms. */
  stepMs: number;
  /** Length of the closed-loop (saturation) step, ms. */
  saturateMs: number;
  /** Runs per server; servers alternate, the order flipping each round. */
  rounds: number;
  /** Load-generating processes. */
  workers: number;
  /** The ladder stops at the first rate whose p99 reaches this, ms. */
  p99LimitMs: number;
  log: (line: string) => void;
}

/** One measured step. Rates are relays per second; CPU is % of one core over the step. */
export interface Step {
  targetRate: number;
  sentRate: number;
  receivedRate: number;
  p50Ms: number;
  p99Ms: number;
  lost: number;
  unexpected: number;
  /** Frames per second the server sent back to the sender of a relay (y-webrtc's echo). */
  echoRate: number;
  serverCpuPercent: number;
  workersCpuPercent: number;
  /** Server CPU time per relay, µs. */
  serverCpuPerRelayUs: number;
  /** The user-space part of it (JS, ws, V8): what our code changes; the rest is the kernel's. */
  serverUserCpuPerRelayUs: number;
  /** The server's event-loop delay over the step (bench/signaling/loop-monitor.ts), ms. */
  serverLoopDelayP99Ms: number;
  serverLoopDelayMaxMs: number;
  /** The worst event-loop delay of the load workers, ms: high means the load itself lagged. */
  workersLoopDelayMaxMs: number;
}

/** One server's run in one round. */
export interface ServerRun {
  server: ServerKind;
  sockets: number;
  failedRooms: number;
  rampMs: number;
  rssIdleBytes: number;
  rssLoadedBytes: number;
  /** (RSS after the ramp − RSS before it) / sockets. */
  bytesPerSocket: number;
  steps: Step[];
  /** Highest ladder rate that passed; 0 when none did. */
  maxRateUnderLimit: number;
  /** Why the ladder stopped: the failing rate and reason, or `top of ladder`. */
  stoppedBy: string;
  saturated: Step;
}

export interface LoadResult {
  options: Omit<LoadOptions, 'log'>;
  pinned: boolean;
  runs: ServerRun[];
}

/** Per-server figures over the rounds. */
export interface LoadSummary {
  sockets: Summary;
  rampMs: Summary;
  bytesPerSocket: Summary;
  rssLoadedBytes: Summary;
  maxRateUnderLimit: Summary;
  saturatedRate: Summary;
  saturatedP99Ms: Summary;
  saturatedServerCpu: Summary;
  saturatedWorkersCpu: Summary;
  /** Server CPU time per relay when saturated, µs: throughput less the machine's other work. */
  saturatedCpuPerRelayUs: Summary;
  saturatedUserCpuPerRelayUs: Summary;
  /** By ladder rate: p50, p99, server CPU %, server CPU µs per relay (rounds that reached it). */
  atRate: Map<
    number,
    { p50Ms: Summary; p99Ms: Summary; cpu: Summary; cpuPerRelayUs: Summary; loopMaxMs: Summary }
  >;
}

/** How each server is started: its file, arguments, environment, and the line giving its port. */
interface Launch {
  file: string;
  args: readonly string[];
  /** The port to listen on is given in `PORT` (0 picks one), and `ready` matches it. */
  ready: RegExp;
  /** The server cannot be told port 0 (or would not say which it got): the bench picks one. */
  needsFreePort: boolean;
}

/** PeerJS's CLI as its README starts it (`peerjs --port 9000 --key peerjs --path /myapp`). */
export const PEERJS_ARGS = [
  '--key',
  'peerjs',
  '--path',
  '/myapp',
  '--host',
  '127.0.0.1',
  // Lifted as ours are (bench/signaling/our-server.ts): the default of 5,000 clients would
  // refuse half the sockets, and the load workers do not send the HEARTBEAT a PeerJS client
  // sends every 5 s, which the 60 s default alive timeout waits for.
  '--concurrent_limit',
  '1000000',
  '--alive_timeout',
  '3600000',
] as const;

const SERVERS: Record<ServerKind, Launch> = {
  ours: {
    file: fileURLToPath(new URL('signaling/our-server.ts', import.meta.url)),
    args: [],
    ready: /listening (\d+)/,
    needsFreePort: false,
  },
  bare: {
    file: fileURLToPath(new URL('signaling/bare-relay.ts', import.meta.url)),
    args: [],
    ready: /listening (\d+)/,
    needsFreePort: false,
  },
  peerjs: {
    // The `peerjs` bin; `PORT` stands in for `--port` (the CLI reads it, and says the port).
    file: fileURLToPath(new URL('../node_modules/peer/dist/bin/peerjs.js', import.meta.url)),
    args: PEERJS_ARGS,
    ready: /port: (\d+)/,
    needsFreePort: false,
  },
  'y-webrtc': {
    // `PORT=4444 node ./node_modules/y-webrtc/bin/server.js`, as its README has it. It listens
    // on every interface (no host option); the load comes over loopback all the same.
    file: fileURLToPath(new URL('../node_modules/y-webrtc/bin/server.js', import.meta.url)),
    args: [],
    ready: /running on localhost: (\d+)/,
    needsFreePort: true,
  },
};
const WORKER_FILE = fileURLToPath(new URL('signaling/load-worker.ts', import.meta.url));
const LOOP_MONITOR_FILE = fileURLToPath(new URL('signaling/loop-monitor.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const START_TIMEOUT_MS = 20_000;
/** Rooms each worker sets up at once during the ramp. */
const RAMP_CONCURRENCY = 100;
/** Longest a ramp may take, ms. */
const RAMP_TIMEOUT_MS = 90_000;
/** Time for the heap to settle before reading RSS, ms. */
export const SETTLE_MS = 1000;
/** Tries per ladder step before a server leaves the ladder. */
const STEP_ATTEMPTS = 2;
/** How long a server under load may take to report its event-loop delay, ms. */
const LOOP_DELAY_TIMEOUT_MS = 10_000;
/** A step passes only if the workers sent at least this share of the target rate. */
const MIN_SENT_SHARE = 0.95;

/**
 * `node --import tsx <file>`: one process (the tsx CLI would add a parent), so /proc is its.
 * With env `BENCH_CPU_PROF=<dir>`, servers write a V8 CPU profile there when they stop;
 * `BENCH_SERVER_NODE_ARGS` adds node flags to the servers (e.g. `--perf-basic-prof` for `perf`).
 */
export function tsNode(file: string, profile = false): string[] {
  const dir = process.env.BENCH_CPU_PROF;
  const prof = profile && dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : [];
  const extra = profile
    ? (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean)
    : [];
  const monitor = profile ? ['--import', LOOP_MONITOR_FILE] : [];
  return [process.execPath, ...prof, ...extra, '--import', 'tsx', ...monitor, file];
}

export function ask(
  worker: ChildProcess,
  command: WorkerCommand,
  timeoutMs: number,
): Promise<WorkerReply> {
  let onMessage: (message: WorkerReply) => void = () => {};
  let onExit: (code: number | null) => void = () => {};
  const answer = new Promise<WorkerReply>((resolve, reject) => {
    onMessage = resolve;
    onExit = (code) => reject(new Error(`load worker exited (${code})`));
    worker.once('message', onMessage);
    worker.once('exit', onExit);
  });
  worker.send(command);
  return withTimeout(answer, timeoutMs, `load worker ${command.type}`).finally(() => {
    worker.off('message', onMessage);
    worker.off('exit', onExit);
  });
}

function cpuShare(cpuMs: number, wallMs: number): number {
  return (cpuMs / wallMs) * 100;
}

/**
 * Starts a server under load (with the loop monitor, and the CPU profile if asked for) on a free
 * port; `env` is added to its environment. Resolves once it prints `listening <port>`.
 */
export async function startServer(
  kind: ServerKind,
  pinned: boolean,
  env: Record<string, string> = {},
): Promise<{ server: ChildProcess; output: () => string; port: number }> {
  const launch = SERVERS[kind];
  const port = launch.needsFreePort ? await freePort('tcp') : 0;
  const server = spawnBench([...tsNode(launch.file, true), ...launch.args], {
    cwd: ROOT,
    env: { PORT: String(port), ...env },
    ...(pinned ? { cpus: '0' } : {}),
  });
  const output = captureOutput(server);
  try {
    const match = await waitForLine(server, launch.ready, START_TIMEOUT_MS, output);
    return { server, output, port: Number(match[1]) };
  } catch (error) {
    await stopProcess(server);
    throw error;
  }
}

/** Starts `count` load workers at once; resolves when every one has said `ready`. */
export async function startWorkers(count: number, pinned: boolean): Promise<ChildProcess[]> {
  const workers = Array.from({ length: count }, () => {
    const worker = spawnBench(tsNode(WORKER_FILE), {
      cwd: ROOT,
      ipc: true,
      ...(pinned ? { cpus: '1' } : {}),
    });
    captureOutput(worker);
    return worker;
  });
  try {
    await Promise.all(
      workers.map(async (worker) => {
        const ready = await withTimeout(
          new Promise<WorkerReply>((resolve) => worker.once('message', resolve)),
          START_TIMEOUT_MS,
          'load worker start',
        );
        if (ready.type !== 'ready') throw new Error(`load worker said ${ready.type}`);
      }),
    );
    return workers;
  } catch (error) {
    await Promise.all(workers.map(stopProcess));
    throw error;
  }
}

/** Asks each worker to close its sockets (and forget its rooms), then stops it. */
export async function stopWorkers(workers: readonly ChildProcess[]): Promise<void> {
  await Promise.all(
    workers.map(async (worker) => {
      if (worker.connected) await ask(worker, { type: 'close' }, 10_000).catch(() => {});
      await stopProcess(worker);
    }),
  );
}

/**
 * Runs one command on every worker at once and merges their replies into a {@link Step}.
 * Server CPU is the sum over `servers` (so up to 100% per server), the loop delays the worst of
 * them. `sidecars`: other pids whose CPU over the same window is wanted (Redis), % of one core.
 */
export async function measureStep(
  servers: readonly ChildProcess[],
  workers: readonly ChildProcess[],
  targetRate: number,
  command: (worker: number) => WorkerCommand,
  timeoutMs: number,
  sidecars: readonly number[] = [],
): Promise<{ step: Step; sidecarCpuPercent: number; sidecarCpuPerRelayUs: number }> {
  const sum = (pids: readonly number[], read: (pid: number) => number): number =>
    pids.reduce((total, pid) => total + read(pid), 0);
  const serverPids = servers.map((server) => server.pid!);
  const workerPids = workers.map((worker) => worker.pid!);
  const userMs = (pid: number): number => cpuTimes(pid).userMs;
  // Starts each server's delay histogram afresh.
  await Promise.all(servers.map(readLoopDelay));
  const serverCpu0 = sum(serverPids, cpuTimeMs);
  const serverUser0 = sum(serverPids, userMs);
  const sidecarCpu0 = sum(sidecars, cpuTimeMs);
  const workersCpu0 = sum(workerPids, cpuTimeMs);
  const t0 = performance.now();
  const replies = await Promise.all(workers.map((w, i) => ask(w, command(i), timeoutMs)));
  const wallMs = performance.now() - t0;
  const serverCpuMs = sum(serverPids, cpuTimeMs) - serverCpu0;
  const serverUserCpuMs = sum(serverPids, userMs) - serverUser0;
  const sidecarCpuMs = sum(sidecars, cpuTimeMs) - sidecarCpu0;
  const loops = await Promise.all(servers.map(readLoopDelay));
  const workersCpuMs = sum(workerPids, cpuTimeMs) - workersCpu0;
  const histogram = new LatencyHistogram();
  let sent = 0;
  let received = 0;
  let lost = 0;
  let unexpected = 0;
  let echoes = 0;
  let durationMs = 0;
  let workersLoopDelayMaxMs = 0;
  for (const reply of replies) {
    if (reply.type !== 'measured') throw new Error(`load worker said ${reply.type}`);
    histogram.add(reply.histogram);
    sent += reply.sent;
    received += reply.received;
    lost += reply.lost;
    unexpected += reply.unexpected;
    echoes += reply.echoes;
    durationMs = Math.max(durationMs, reply.durationMs);
    workersLoopDelayMaxMs = Math.max(workersLoopDelayMaxMs, reply.loopDelayMaxMs);
    if (reply.firstUnexpected) console.error(`unexpected frame: ${reply.firstUnexpected}`);
  }
  // NaN (a server that did not answer) wins, as it did with one server.
  const worst = (values: number[]): number =>
    values.some(Number.isNaN) ? NaN : Math.max(...values);
  const step: Step = {
    targetRate,
    sentRate: (sent / durationMs) * 1000,
    receivedRate: (received / durationMs) * 1000,
    p50Ms: histogram.quantile(0.5),
    p99Ms: histogram.quantile(0.99),
    lost,
    unexpected,
    echoRate: (echoes / durationMs) * 1000,
    serverCpuPercent: cpuShare(serverCpuMs, wallMs),
    workersCpuPercent: cpuShare(workersCpuMs, wallMs),
    serverCpuPerRelayUs: (serverCpuMs * 1000) / Math.max(1, received),
    serverUserCpuPerRelayUs: (serverUserCpuMs * 1000) / Math.max(1, received),
    serverLoopDelayP99Ms: worst(loops.map((loop) => loop.p99Ms)),
    serverLoopDelayMaxMs: worst(loops.map((loop) => loop.maxMs)),
    workersLoopDelayMaxMs,
  };
  return {
    step,
    sidecarCpuPercent: cpuShare(sidecarCpuMs, wallMs),
    sidecarCpuPerRelayUs: (sidecarCpuMs * 1000) / Math.max(1, received),
  };
}

/** A server's event-loop delay since the last call (NaN if it does not answer). */
export async function readLoopDelay(
  server: ChildProcess,
): Promise<{ p99Ms: number; maxMs: number }> {
  const line = waitForLine(server, /loop-delay ([\d.]+) ([\d.]+)\n/, LOOP_DELAY_TIMEOUT_MS);
  server.kill('SIGUSR2');
  try {
    const match = await line;
    return { p99Ms: Number(match[1]), maxMs: Number(match[2]) };
  } catch {
    return { p99Ms: NaN, maxMs: NaN };
  }
}

/** What {@link rampWorkers} opened. */
export interface Ramped {
  sockets: number;
  failedRooms: number;
  rampMs: number;
}

/**
 * Opens `sockets` sockets in two-person rooms, split over the workers. `portB`: the server of
 * each room's second member, when it is not `port`'s (two servers sharing rooms).
 */
export async function rampWorkers(
  workers: readonly ChildProcess[],
  target: { kind: ServerKind; port: number; portB?: number; sockets: number; label: string },
  log: (line: string) => void,
): Promise<Ramped> {
  const roomsPerWorker = Math.floor(target.sockets / 2 / workers.length);
  // A fresh 127.x/16 per run, so no socket of an earlier run in TIME_WAIT holds an address.
  const addressOctet = 16 + Math.floor(Math.random() * 230);
  const t0 = performance.now();
  const ramps = await Promise.all(
    workers.map((worker, i) =>
      ask(
        worker,
        {
          type: 'ramp',
          server: target.kind,
          port: target.port,
          ...(target.portB === undefined ? {} : { portB: target.portB }),
          rooms: roomsPerWorker,
          firstSocket: i * roomsPerWorker * 2,
          addressOctet,
          concurrency: RAMP_CONCURRENCY,
          timeoutMs: RAMP_TIMEOUT_MS,
        },
        RAMP_TIMEOUT_MS + 30_000,
      ),
    ),
  );
  const rampMs = performance.now() - t0;
  let sockets = 0;
  let failedRooms = 0;
  for (const reply of ramps) {
    if (reply.type !== 'ramped') throw new Error(`load worker said ${reply.type}`);
    sockets += reply.sockets;
    failedRooms += reply.failedRooms;
    if (reply.firstError) log(`  ${target.label}: a room failed to open: ${reply.firstError}`);
  }
  return { sockets, failedRooms, rampMs };
}

class ServerUnderLoad {
  readonly server: ChildProcess;
  readonly workers: ChildProcess[] = [];
  readonly output: () => string;

  private constructor(server: ChildProcess, output: () => string) {
    this.server = server;
    this.output = output;
  }

  static async start(
    kind: ServerKind,
    workers: number,
    pinned: boolean,
  ): Promise<{ run: ServerUnderLoad; port: number }> {
    const { server, output, port } = await startServer(kind, pinned);
    const run = new ServerUnderLoad(server, output);
    try {
      run.workers.push(...(await startWorkers(workers, pinned)));
      return { run, port };
    } catch (error) {
      await run.stop();
      throw error;
    }
  }

  /** Runs one command on every worker at once and merges their replies into a {@link Step}. */
  async step(
    targetRate: number,
    command: (worker: number) => WorkerCommand,
    timeoutMs: number,
  ): Promise<Step> {
    return (await measureStep([this.server], this.workers, targetRate, command, timeoutMs)).step;
  }

  async stop(): Promise<void> {
    await stopWorkers(this.workers);
    await stopProcess(this.server);
  }
}

/** A server with its sockets open, and what the ramp measured. */
interface Loaded {
  kind: ServerKind;
  run: ServerUnderLoad;
  sockets: number;
  failedRooms: number;
  rampMs: number;
  rssIdleBytes: number;
  rssLoadedBytes: number;
  steps: Step[];
  maxRateUnderLimit: number;
  stoppedBy: string | null;
}

async function load(kind: ServerKind, options: LoadOptions, pinned: boolean): Promise<Loaded> {
  const { log } = options;
  const { run, port } = await ServerUnderLoad.start(kind, options.workers, pinned);
  try {
    const pid = run.server.pid!;
    await sleep(SETTLE_MS / 2);
    const rssIdleBytes = rssBytes(pid);
    const { sockets, failedRooms, rampMs } = await rampWorkers(
      run.workers,
      { kind, port, sockets: options.sockets, label: kind },
      log,
    );
    if (sockets === 0) throw new Error(`${kind}: no socket opened:\n${run.output()}`);
    await sleep(SETTLE_MS);
    const rssLoadedBytes = rssBytes(pid);
    log(
      `  ${kind}: ${sockets} sockets in ${(rampMs / 1000).toFixed(1)} s, RSS ${mib(rssIdleBytes)} → ${mib(rssLoadedBytes)} MiB`,
    );
    return {
      kind,
      run,
      sockets,
      failedRooms,
      rampMs,
      rssIdleBytes,
      rssLoadedBytes,
      steps: [],
      maxRateUnderLimit: 0,
      stoppedBy: null,
    };
  } catch (error) {
    await run.stop();
    throw error;
  }
}

export function mib(bytes: number): string {
  return (bytes / 2 ** 20).toFixed(0);
}

/** Why a ladder step fails, or `null` when it passes. */
export function failure(step: Step, p99LimitMs: number): string | null {
  const rate = step.targetRate;
  if (step.sentRate < rate * MIN_SENT_SHARE) {
    return `${rate}/s: the load workers sent only ${step.sentRate.toFixed(0)}/s`;
  }
  if (step.lost > 0) return `${rate}/s: ${step.lost} relays lost`;
  if (step.p99Ms >= p99LimitMs) return `${rate}/s: p99 ${step.p99Ms.toFixed(0)} ms`;
  return null;
}

function describe(kind: ServerKind, label: string, step: Step): string {
  return (
    `  ${kind} ${label}: ${step.receivedRate.toFixed(0)}/s received, p50 ${step.p50Ms.toFixed(2)} ms, ` +
    `p99 ${step.p99Ms.toFixed(2)} ms, lost ${step.lost}; server CPU ${step.serverCpuPercent.toFixed(0)}% ` +
    `(${step.serverCpuPerRelayUs.toFixed(0)} µs/relay), loop delay max ${step.serverLoopDelayMaxMs} ms; ` +
    `workers CPU ${step.workersCpuPercent.toFixed(0)}%, loop delay max ${step.workersLoopDelayMaxMs.toFixed(1)} ms`
  );
}

/**
 * One round: both servers up with their sockets open, then every step run on one server and
 * straight after on the other, so that whatever else the machine does lands on both alike.
 */
async function round(
  index: number,
  options: LoadOptions,
  pinned: boolean,
  kinds: readonly ServerKind[],
): Promise<ServerRun[]> {
  const { log } = options;
  // Rotated each round, so no server is always first after the others' steps.
  const order = kinds.map((_, i) => kinds[(i + index) % kinds.length]!);
  const servers: Loaded[] = [];
  try {
    for (const kind of order) servers.push(await load(kind, options, pinned));
    const stepTimeout = options.stepMs + 15_000;
    for (const rate of options.rates) {
      for (const server of servers) {
        if (server.stoppedBy) continue;
        // A failed step gets one more try: a single stall of a shared machine spoils a p99.
        for (let attempt = 1; attempt <= STEP_ATTEMPTS; attempt++) {
          const step = await server.run.step(
            rate,
            () => ({
              type: 'rate',
              relaysPerSecond: rate / options.workers,
              durationMs: options.stepMs,
            }),
            stepTimeout,
          );
          log(describe(server.kind, `${rate}/s${attempt > 1 ? ` (try ${attempt})` : ''}`, step));
          server.stoppedBy = failure(step, options.p99LimitMs);
          if (!server.stoppedBy || attempt === STEP_ATTEMPTS) {
            server.steps.push(step);
            break;
          }
        }
        if (!server.stoppedBy) server.maxRateUnderLimit = rate;
      }
    }
    const runs: ServerRun[] = [];
    for (const server of servers) {
      const saturated = await server.run.step(
        NaN,
        () => ({ type: 'saturate', durationMs: options.saturateMs }),
        options.saturateMs + 15_000,
      );
      log(describe(server.kind, 'saturated', saturated));
      runs.push({
        server: server.kind,
        sockets: server.sockets,
        failedRooms: server.failedRooms,
        rampMs: server.rampMs,
        rssIdleBytes: server.rssIdleBytes,
        rssLoadedBytes: server.rssLoadedBytes,
        bytesPerSocket: (server.rssLoadedBytes - server.rssIdleBytes) / server.sockets,
        steps: server.steps,
        maxRateUnderLimit: server.maxRateUnderLimit,
        stoppedBy: server.stoppedBy ?? 'top of ladder',
        saturated,
      });
    }
    return runs;
  } finally {
    await Promise.all(servers.map((server) => server.run.stop()));
  }
}

/** Pins server and load to different CPUs when there are two and `taskset` is here. */
function canPin(): boolean {
  return (
    process.env.BENCH_PIN === '1' && availableParallelism() >= 2 && existsSync('/usr/bin/taskset')
  );
}

/** `kinds`: the servers, all up at once in each round, every step run on each in turn. */
export async function benchSignalingLoad(
  options: LoadOptions,
  kinds: readonly ServerKind[] = ['ours', 'bare'],
): Promise<LoadResult> {
  const pinned = canPin();
  const runs: ServerRun[] = [];
  for (let i = 0; i < options.rounds; i++) {
    options.log(`signaling load (${kinds.join(', ')}), round ${i + 1} of ${options.rounds}`);
    runs.push(...(await round(i, options, pinned, kinds)));
  }
  const { sockets, rates, stepMs, saturateMs, rounds, workers, p99LimitMs } = options;
  return {
    options: { sockets, rates, stepMs, saturateMs, rounds, workers, p99LimitMs },
    pinned,
    runs,
  };
}

/** Medians and spreads over the rounds, for one server. */
export function summarizeLoad(result: LoadResult, kind: ServerKind): LoadSummary {
  const runs = result.runs.filter((run) => run.server === kind);
  const of = (pick: (run: ServerRun) => number): Summary => summarize(runs.map(pick));
  const atRate: LoadSummary['atRate'] = new Map();
  for (const rate of result.options.rates) {
    const steps = runs.flatMap((run) => run.steps.filter((step) => step.targetRate === rate));
    if (steps.length === 0) continue;
    atRate.set(rate, {
      p50Ms: summarize(steps.map((s) => s.p50Ms)),
      p99Ms: summarize(steps.map((s) => s.p99Ms)),
      cpu: summarize(steps.map((s) => s.serverCpuPercent)),
      cpuPerRelayUs: summarize(steps.map((s) => s.serverCpuPerRelayUs)),
      loopMaxMs: summarize(steps.map((s) => s.serverLoopDelayMaxMs)),
    });
  }
  return {
    sockets: of((run) => run.sockets),
    rampMs: of((run) => run.rampMs),
    bytesPerSocket: of((run) => run.bytesPerSocket),
    rssLoadedBytes: of((run) => run.rssLoadedBytes),
    maxRateUnderLimit: of((run) => run.maxRateUnderLimit),
    saturatedRate: of((run) => run.saturated.receivedRate),
    saturatedP99Ms: of((run) => run.saturated.p99Ms),
    saturatedServerCpu: of((run) => run.saturated.serverCpuPercent),
    saturatedWorkersCpu: of((run) => run.saturated.workersCpuPercent),
    saturatedCpuPerRelayUs: of((run) => run.saturated.serverCpuPerRelayUs),
    saturatedUserCpuPerRelayUs: of((run) => run.saturated.serverUserCpuPerRelayUs),
    atRate,
  };
}
