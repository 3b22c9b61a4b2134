/**
 * Benchmark 8: several signaling servers sharing rooms through Redis (issue #12), with the load
 * bench's machinery (bench/signaling-load.ts, bench/signaling/load-worker.ts): the same load on
 * three set-ups, each started afresh, ramped, and taken up the same open-loop ladder of rates.
 *
 * - `memory`: one process, rooms in memory (`npm start` without `REDIS_URL`).
 * - `redis-one`: one process with the Redis directory, both members of every room on it: a relay
 *   goes from the directory's local mirror, never through Redis; joins and leases do.
 * - `redis-two`: two processes on one Redis, the two members of every room on different ones:
 *   every relay is published to the other process's channel and comes back out of Redis there.
 *
 * Set-ups run one after the other, not interleaved step by step as in section 1: a Redis node
 * with sockets open keeps refreshing its lease and room keys (a slice of them every 2 s), which
 * would land on the others' figures. Each Redis is a fresh `redis-server` (signaling/testing/
 * redis.ts). `BENCH_PIN` does not apply: there are more servers than the one CPU it gives them.
 */
import type { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { startTestRedis, type TestRedis } from '../signaling/testing/redis.ts';
import { rssBytes, sleep, stopProcess } from './proc.ts';
import {
  ask,
  failure,
  measureStep,
  mib,
  rampWorkers,
  SETTLE_MS,
  startServer,
  startWorkers,
  stopWorkers,
  type Step,
} from './signaling-load.ts';
import { summarize, type Summary } from './stats.ts';

export type RedisSetup = 'memory' | 'redis-one' | 'redis-two';

export const REDIS_SETUPS: readonly RedisSetup[] = ['memory', 'redis-one', 'redis-two'];

export const REDIS_SETUP_LABELS: Record<RedisSetup, string> = {
  memory: 'one process, memory',
  'redis-one': 'one process, Redis',
  'redis-two': 'two processes, Redis',
};

export interface RedisLoadOptions {
  /** Sockets in all, two per room (split evenly over the servers in `redis-two`). */
  sockets: number;
  /** Open-loop rates to try, relays per second in all, ascending. */
  rates: readonly number[];
  /** Length of each open-loop step, ms. */
  stepMs: number;
  /** Runs per set-up; the order of the set-ups rotates each round. */
  rounds: number;
  /** Load-generating processes, shared by the set-ups (each closes its sockets after). */
  workers: number;
  /** A set-up leaves the ladder at the first rate whose p99 reaches this, ms. */
  p99LimitMs: number;
  log: (line: string) => void;
}

/** A ladder step, with Redis' share. Server CPU is summed over the servers (% of one core each). */
export interface RedisStep extends Step {
  /** redis-server's CPU over the step, % of one core; 0 without Redis. */
  redisCpuPercent: number;
  /** CPU time of the servers and Redis together per relay, µs. */
  totalCpuPerRelayUs: number;
}

/** One set-up's run in one round. */
export interface SetupRun {
  setup: RedisSetup;
  sockets: number;
  failedRooms: number;
  rampMs: number;
  /** RSS of every server process, summed: before the ramp and after it. */
  serversRssIdleBytes: number;
  serversRssLoadedBytes: number;
  /** (summed servers' RSS after the ramp − before it) / sockets. */
  bytesPerSocket: number;
  /** redis-server's RSS growth over the ramp / sockets; NaN without Redis. */
  redisBytesPerSocket: number;
  steps: RedisStep[];
  /** Highest ladder rate that passed; 0 when none did. */
  maxRateUnderLimit: number;
  /** Why the ladder stopped: the failing rate and reason, or `top of ladder`. */
  stoppedBy: string;
}

export interface RedisLoadResult {
  options: Omit<RedisLoadOptions, 'log'>;
  runs: SetupRun[];
}

/** Per-set-up figures over the rounds. */
export interface RedisLoadSummary {
  sockets: Summary;
  rampMs: Summary;
  serversRssIdleBytes: Summary;
  serversRssLoadedBytes: Summary;
  bytesPerSocket: Summary;
  redisBytesPerSocket: Summary;
  maxRateUnderLimit: Summary;
  /** By ladder rate, over the rounds that reached it. CPU in % of one core. */
  atRate: Map<
    number,
    {
      p50Ms: Summary;
      p99Ms: Summary;
      loopMaxMs: Summary;
      serverCpu: Summary;
      redisCpu: Summary;
      workersCpu: Summary;
      totalCpuPerRelayUs: Summary;
    }
  >;
  /** The first failing step of each round (none when a round reached the top of the ladder). */
  stoppedAt: RedisStep[];
}

/** Tries per ladder step before a set-up leaves the ladder (one stall can spoil a p99). */
const STEP_ATTEMPTS = 2;
/**
 * An unmeasured step at the lowest rate before the ladder, ms: the workers are shared and would
 * otherwise be cold for the first set-up only, and each server is fresh.
 */
const WARMUP_MS = 500;
/** Time a step may take beyond its length (the drain, the replies), ms. */
const STEP_SLACK_MS = 15_000;

/**
 * The pid of the `redis-server` on `port`: it names its port in its title (`redis-server
 * 127.0.0.1:<port>`) or, before it sets the title, in its arguments (`--port <port>`).
 */
function redisPid(port: number): number | null {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() !== 'redis-server') continue;
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ');
      if (new RegExp(`(:|--port )${port}\\b`).test(args)) return Number(entry);
    } catch {
      // Exited while we looked.
    }
  }
  return null;
}

function describe(label: string, step: RedisStep): string {
  return (
    `  ${label} ${step.targetRate}/s: ${step.receivedRate.toFixed(0)}/s received, ` +
    `p50 ${step.p50Ms.toFixed(2)} ms, p99 ${step.p99Ms.toFixed(2)} ms, lost ${step.lost}; ` +
    `CPU servers ${step.serverCpuPercent.toFixed(0)}%, Redis ${step.redisCpuPercent.toFixed(0)}%, ` +
    `workers ${step.workersCpuPercent.toFixed(0)}% (${step.totalCpuPerRelayUs.toFixed(0)} µs/relay ` +
    `servers + Redis); longest stall ${step.serverLoopDelayMaxMs} ms`
  );
}

/** Brings one set-up up, ramps it, runs the ladder, and takes it down again. */
async function runSetup(
  setup: RedisSetup,
  workers: readonly ChildProcess[],
  options: RedisLoadOptions,
): Promise<SetupRun> {
  const { log } = options;
  const label = REDIS_SETUP_LABELS[setup];
  let redis: TestRedis | null = null;
  const servers: ChildProcess[] = [];
  try {
    let redisAt: number | null = null;
    if (setup !== 'memory') {
      redis = await startTestRedis();
      redisAt = redisPid(redis.port);
      if (redisAt === null) log(`  ${label}: redis-server's pid not found; its CPU counts as 0`);
    }
    const env: Record<string, string> = redis ? { REDIS_URL: redis.url } : {};
    const started = await Promise.allSettled(
      Array.from({ length: setup === 'redis-two' ? 2 : 1 }, () => startServer('ours', false, env)),
    );
    for (const outcome of started) {
      if (outcome.status === 'fulfilled') servers.push(outcome.value.server);
    }
    const refused = started.find((outcome) => outcome.status === 'rejected');
    if (refused) throw refused.reason;
    const ports = started.map((outcome) =>
      outcome.status === 'fulfilled' ? outcome.value.port : 0,
    );
    const serversRss = (): number => servers.reduce((sum, s) => sum + rssBytes(s.pid!), 0);
    const redisRss = (): number => (redisAt === null ? NaN : rssBytes(redisAt));

    await sleep(SETTLE_MS / 2);
    const serversRssIdleBytes = serversRss();
    const redisRssIdleBytes = redisRss();
    const ramped = await rampWorkers(
      workers,
      { kind: 'ours', port: ports[0]!, portB: ports.at(-1)!, sockets: options.sockets, label },
      log,
    );
    if (ramped.sockets === 0) throw new Error(`${label}: no socket opened`);
    await sleep(SETTLE_MS);
    const serversRssLoadedBytes = serversRss();
    const redisRssLoadedBytes = redisRss();
    log(
      `  ${label}: ${ramped.sockets} sockets in ${(ramped.rampMs / 1000).toFixed(1)} s, servers' RSS ` +
        `${mib(serversRssIdleBytes)} → ${mib(serversRssLoadedBytes)} MiB` +
        (redisAt === null
          ? ''
          : `, Redis ${mib(redisRssIdleBytes)} → ${mib(redisRssLoadedBytes)} MiB`),
    );

    const warmupRate = options.rates[0] ?? 0;
    await measureStep(
      servers,
      workers,
      warmupRate,
      () => ({ type: 'rate', relaysPerSecond: warmupRate / workers.length, durationMs: WARMUP_MS }),
      WARMUP_MS + STEP_SLACK_MS,
    );
    const steps: RedisStep[] = [];
    let maxRateUnderLimit = 0;
    let stoppedBy: string | null = null;
    for (const rate of options.rates) {
      for (let attempt = 1; attempt <= STEP_ATTEMPTS; attempt++) {
        const { step, sidecarCpuPercent, sidecarCpuPerRelayUs } = await measureStep(
          servers,
          workers,
          rate,
          () => ({
            type: 'rate',
            relaysPerSecond: rate / workers.length,
            durationMs: options.stepMs,
          }),
          options.stepMs + STEP_SLACK_MS,
          redisAt === null ? [] : [redisAt],
        );
        const measured: RedisStep = {
          ...step,
          redisCpuPercent: sidecarCpuPercent,
          totalCpuPerRelayUs: step.serverCpuPerRelayUs + sidecarCpuPerRelayUs,
        };
        log(describe(`${label}${attempt > 1 ? ` (try ${attempt})` : ''}`, measured));
        stoppedBy = failure(measured, options.p99LimitMs);
        if (!stoppedBy || attempt === STEP_ATTEMPTS) {
          steps.push(measured);
          break;
        }
      }
      if (stoppedBy) break;
      maxRateUnderLimit = rate;
    }
    return {
      setup,
      sockets: ramped.sockets,
      failedRooms: ramped.failedRooms,
      rampMs: ramped.rampMs,
      serversRssIdleBytes,
      serversRssLoadedBytes,
      bytesPerSocket: (serversRssLoadedBytes - serversRssIdleBytes) / ramped.sockets,
      redisBytesPerSocket: (redisRssLoadedBytes - redisRssIdleBytes) / ramped.sockets,
      steps,
      maxRateUnderLimit,
      stoppedBy: stoppedBy ?? 'top of ladder',
    };
  } finally {
    // The workers stay for the next set-up; only their sockets go.
    await Promise.all(workers.map((w) => ask(w, { type: 'close' }, 10_000).catch(() => {})));
    await Promise.all(servers.map(stopProcess));
    await redis?.stop();
  }
}

export async function benchRedisLoad(options: RedisLoadOptions): Promise<RedisLoadResult> {
  const workers = await startWorkers(options.workers, false);
  const runs: SetupRun[] = [];
  try {
    for (let round = 0; round < options.rounds; round++) {
      options.log(`several servers through Redis, round ${round + 1} of ${options.rounds}`);
      const shift = round % REDIS_SETUPS.length;
      const order = [...REDIS_SETUPS.slice(shift), ...REDIS_SETUPS.slice(0, shift)];
      for (const setup of order) runs.push(await runSetup(setup, workers, options));
    }
  } finally {
    await stopWorkers(workers);
  }
  const { sockets, rates, stepMs, rounds, p99LimitMs } = options;
  return {
    options: { sockets, rates, stepMs, rounds, workers: options.workers, p99LimitMs },
    runs,
  };
}

/** Medians and spreads over the rounds, for one set-up. Pure. */
export function summarizeRedisLoad(result: RedisLoadResult, setup: RedisSetup): RedisLoadSummary {
  const runs = result.runs.filter((run) => run.setup === setup);
  const of = (pick: (run: SetupRun) => number): Summary => summarize(runs.map(pick));
  const atRate: RedisLoadSummary['atRate'] = new Map();
  for (const rate of result.options.rates) {
    const steps = runs.flatMap((run) => run.steps.filter((step) => step.targetRate === rate));
    if (steps.length === 0) continue;
    const over = (pick: (step: RedisStep) => number): Summary => summarize(steps.map(pick));
    atRate.set(rate, {
      p50Ms: over((s) => s.p50Ms),
      p99Ms: over((s) => s.p99Ms),
      loopMaxMs: over((s) => s.serverLoopDelayMaxMs),
      serverCpu: over((s) => s.serverCpuPercent),
      redisCpu: over((s) => s.redisCpuPercent),
      workersCpu: over((s) => s.workersCpuPercent),
      totalCpuPerRelayUs: over((s) => s.totalCpuPerRelayUs),
    });
  }
  return {
    sockets: of((run) => run.sockets),
    rampMs: of((run) => run.rampMs),
    serversRssIdleBytes: of((run) => run.serversRssIdleBytes),
    serversRssLoadedBytes: of((run) => run.serversRssLoadedBytes),
    bytesPerSocket: of((run) => run.bytesPerSocket),
    redisBytesPerSocket: of((run) => run.redisBytesPerSocket),
    maxRateUnderLimit: of((run) => run.maxRateUnderLimit),
    atRate,
    stoppedAt: runs.flatMap((run) =>
      run.stoppedBy === 'top of ladder' ? [] : run.steps.slice(-1),
    ),
  };
}
