/**
 * `npm run bench`: runs the seven benchmarks, each against its baseline in the same run, and writes
 * BENCHMARKS.md (bench/report.ts). Benchmarks print figures; they never fail on timing. A benchmark
 * that cannot run (no root for the NAT lab, say) is reported as such and the others still run; the
 * exit status is 1 only then.
 *
 * Env:
 * - `BENCH_QUICK=1`: the short version (2,000 sockets, fewer runs, fewer bytes), under 2 minutes.
 * - `BENCH_ONLY=load,setup,throughput,weight,startup,redis,peers`: a subset, for working on one benchmark.
 * - `BENCH_OUT=path`: where the report goes (default BENCHMARKS.md at the repository root; `-` for
 *   stdout only).
 * - `BENCH_PIN=1`: pin signaling servers and load workers to separate CPUs (bench/signaling-load.ts).
 * - `BENCH_CPU_PROF=dir`: the signaling servers under load write V8 CPU profiles (`.cpuprofile`) there.
 * - `BENCH_NAT_LAB_PREFIX` (default `bn-`), `BENCH_SERVER_OPTIONS`, `BENCH_REDIS_OPTIONS`: see
 *   setup-lab.ts, signaling/our-server.ts.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { format, resolveConfig } from 'prettier';
import { CHROMIUM_PATH } from '../e2e/chromium.ts';
import { benchPageWeight, buildApp } from './page-weight.ts';
import { machineBusyMs, TreeCpuMeter } from './proc.ts';
import { benchPeers } from './peers-load.ts';
import { benchRedisLoad } from './redis-load.ts';
import { keepUnmeasuredSections } from './report-merge.ts';
import {
  renderReport,
  type BenchResults,
  type LoadSpan,
  type MachineInfo,
  type Outcome,
} from './report.ts';
import { benchSetup } from './setup-lab.ts';
import { benchSignalingLoad, type LoadOptions } from './signaling-load.ts';
import { benchStartup } from './startup.ts';
import { benchThroughput } from './throughput.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const QUICK = process.env.BENCH_QUICK === '1';
const SECTIONS = ['load', 'setup', 'throughput', 'weight', 'startup', 'redis', 'peers'] as const;
type Section = (typeof SECTIONS)[number];
const ONLY = new Set(
  (process.env.BENCH_ONLY ?? SECTIONS.join(',')).split(',').map((s) => s.trim()),
);

/** Sizes of each benchmark, full and quick. */
const PLAN = QUICK
  ? {
      load: {
        sockets: 2000,
        rates: [2000, 5000, 10_000, 20_000, 40_000],
        stepMs: 1500,
        saturateMs: 1500,
        rounds: 1,
      },
      setupRuns: 3,
      throughput: { rounds: 1, transferBytes: 8 * 2 ** 20, warmupBytes: 2 * 2 ** 20 },
      startupRuns: 3,
      redis: { sockets: 2000, rates: [2000, 10_000, 20_000, 40_000], stepMs: 1000, rounds: 1 },
      peers: {
        sockets: 2000,
        rates: [2000, 10_000, 40_000],
        stepMs: 1000,
        saturateMs: 1000,
        rounds: 1,
        startupRuns: 2,
      },
    }
  : {
      load: {
        sockets: 10_000,
        rates: [1000, 2000, 5000, 10_000, 15_000, 20_000, 30_000, 40_000, 60_000, 80_000],
        stepMs: 4000,
        saturateMs: 5000,
        rounds: 3,
      },
      setupRuns: 12,
      throughput: { rounds: 5, transferBytes: 32 * 2 ** 20, warmupBytes: 4 * 2 ** 20 },
      startupRuns: 10,
      redis: {
        sockets: 10_000,
        rates: [1000, 2000, 5000, 10_000, 15_000, 20_000, 30_000, 40_000, 60_000],
        stepMs: 3000,
        rounds: 2,
      },
      peers: {
        sockets: 10_000,
        rates: [1000, 2000, 5000, 10_000, 20_000, 30_000, 40_000, 60_000, 80_000],
        stepMs: 3000,
        saturateMs: 4000,
        rounds: 2,
        startupRuns: 6,
      },
    };

function log(line: string): void {
  console.log(line);
}

function packageVersion(name: string): string {
  try {
    const file = join(ROOT, 'node_modules', name, 'package.json');
    return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  } catch {
    return 'not installed';
  }
}

function chromiumVersion(): string {
  try {
    return execFileSync(CHROMIUM_PATH, ['--version'], { encoding: 'utf8', stdio: 'pipe' }).trim();
  } catch {
    return `unknown (${CHROMIUM_PATH})`;
  }
}

function machine(loadBefore: number): MachineInfo {
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: availableParallelism(),
    memoryBytes: totalmem(),
    kernel: `Linux ${release()}`,
    node: process.version,
    chromium: chromiumVersion(),
    packages: Object.fromEntries(
      [
        'ws',
        '@thaunknown/simple-peer',
        'svelte',
        'vite',
        '@playwright/test',
        'tsx',
        'peer',
        'y-webrtc',
      ].map((name) => [name, packageVersion(name)]),
    ),
    loadBefore,
    loadAfter: loadavg()[0] ?? NaN,
  };
}

/** Runs one benchmark if selected; its failure is recorded, not thrown. */
async function section<T>(name: Section, run: () => Promise<T>): Promise<Outcome<T>> {
  if (!ONLY.has(name)) return undefined;
  const t0 = performance.now();
  const busy0 = machineBusyMs();
  const bench = new TreeCpuMeter();
  const span = (): LoadSpan => {
    const capacityMs = (performance.now() - t0) * availableParallelism();
    const benchMs = bench.usedMs();
    bench.stop();
    const othersMs = Math.max(0, machineBusyMs() - busy0 - benchMs);
    return {
      benchCpuPercent: (benchMs / capacityMs) * 100,
      othersCpuPercent: (othersMs / capacityMs) * 100,
    };
  };
  log(`\n== ${name} ==`);
  try {
    const value = await run();
    const load = span();
    log(
      `== ${name}: ${((performance.now() - t0) / 1000).toFixed(0)} s; CPU: bench ${load.benchCpuPercent.toFixed(0)}%, others ${load.othersCpuPercent.toFixed(0)}% ==`,
    );
    return { ok: true, value, load };
  } catch (error) {
    const message = (error as Error).message ?? String(error);
    log(`== ${name} failed: ${message}`);
    return { ok: false, error: message.split('\n')[0] ?? message, load: span() };
  }
}

async function main(): Promise<number> {
  const startedAt = new Date();
  const loadBefore = loadavg()[0] ?? NaN;
  const t0 = performance.now();
  log(`bench: ${QUICK ? 'quick' : 'full'} run of ${[...ONLY].join(', ')}`);

  // One build of the app serves the page-weight figure and the NAT lab's server.
  const appDir = mkdtempSync(join(tmpdir(), 'bench-app-'));
  try {
    let built: Promise<void> | null = null;
    const appBuilt = (): Promise<void> => (built ??= buildApp(appDir));
    const loadOptions: LoadOptions = { ...PLAN.load, workers: 2, p99LimitMs: 50, log };
    const load = await section('load', () => benchSignalingLoad(loadOptions));
    const setup = await section('setup', async () => {
      await appBuilt();
      return benchSetup({ runs: PLAN.setupRuns, appDir, log });
    });
    const throughput = await section('throughput', () =>
      benchThroughput({ ...PLAN.throughput, log }),
    );
    const pageWeight = await section('weight', async () => {
      await appBuilt();
      return benchPageWeight(appDir);
    });
    const startup = await section('startup', () => benchStartup({ runs: PLAN.startupRuns, log }));
    const redis = await section('redis', () =>
      benchRedisLoad({ ...PLAN.redis, workers: 2, p99LimitMs: 50, log }),
    );
    const peers = await section('peers', () =>
      benchPeers({ ...PLAN.peers, workers: 2, p99LimitMs: 50, log }),
    );

    const results: BenchResults = {
      quick: QUICK,
      startedAt,
      durationMs: performance.now() - t0,
      machine: machine(loadBefore),
      load,
      setup,
      throughput,
      pageWeight,
      startup,
      redis,
      peers,
    };
    const out = process.env.BENCH_OUT ?? join(ROOT, 'BENCHMARKS.md');
    // Formatted as `npm run lint` (prettier --check .) expects the committed file to be.
    const options = (await resolveConfig(join(ROOT, 'BENCHMARKS.md'))) ?? {};
    const report = await format(renderReport(results), { ...options, parser: 'markdown' });
    log(`\n${report}`);
    if (out !== '-') {
      // Sections this run did not measure (a BENCH_ONLY subset; 6 and 7 have scripts of their
      // own) stay as they were, rather than vanish from the file.
      const previous = existsSync(out) ? readFileSync(out, 'utf8') : '';
      writeFileSync(
        out,
        await format(keepUnmeasuredSections(previous, report), { ...options, parser: 'markdown' }),
      );
      log(`bench: wrote ${out}`);
    }
    const outcomes = [load, setup, throughput, pageWeight, startup, redis, peers];
    return outcomes.some((outcome) => outcome && !outcome.ok) ? 1 : 0;
  } finally {
    rmSync(appDir, { recursive: true, force: true });
  }
}

process.exitCode = await main();
