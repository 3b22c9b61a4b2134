/**
 * Child processes for the benches: started with a raised open-file limit and optionally pinned to
 * CPUs, read through /proc (RSS, CPU time), and always stopped. Linux only.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** Open files a bench process asks for: 10,000 sockets on one side need at least that many. */
export const OPEN_FILES_WANTED = 65536;
/** Kernel clock ticks per second, the unit of utime/stime in /proc/<pid>/stat (`getconf CLK_TCK`). */
const CLOCK_TICKS_PER_SECOND = 100;
const KILL_GRACE_MS = 2000;

export interface SpawnBenchOptions {
  /** CPU list for `taskset -c`, e.g. `'0'`; unset = no pinning. */
  cpus?: string;
  env?: Record<string, string>;
  cwd?: string;
  /** Adds an IPC channel (fd 3) for `process.send`. */
  ipc?: boolean;
}

/**
 * Starts `command` through bash, which raises the open-file limit to {@link OPEN_FILES_WANTED} or,
 * if the hard limit is lower (an unprivileged container), to the hard limit, then `exec`s: the
 * child's pid is the command's own, so /proc readings are the command's.
 */
export function spawnBench(
  command: readonly string[],
  options: SpawnBenchOptions = {},
): ChildProcess {
  const pin = options.cpus ? `taskset -c ${options.cpus} ` : '';
  const script = `ulimit -n ${OPEN_FILES_WANTED} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec ${pin}"$@"`;
  const stdio: StdioOptions = options.ipc
    ? ['ignore', 'pipe', 'pipe', 'ipc']
    : ['ignore', 'pipe', 'pipe'];
  const child = spawn('bash', ['-c', script, 'bench', ...command], {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio,
  });
  child.on('error', () => {}); // reported through exit/timeouts; never crash the runner
  return child;
}

/** Collects a child's output; `text()` gives the last `maxChars` of it, for error messages. */
export function captureOutput(child: ChildProcess, maxChars = 16 * 1024): () => string {
  let tail = '';
  for (const stream of [child.stdout, child.stderr]) {
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => (tail = (tail + chunk).slice(-maxChars)));
  }
  return () => tail;
}

/** Resolves with the first match of `pattern` in the child's stdout; rejects on exit or timeout. */
export function waitForLine(
  child: ChildProcess,
  pattern: RegExp,
  timeoutMs: number,
  output: () => string = () => '',
): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const onData = (chunk: Buffer | string): void => {
      seen += chunk.toString();
      const match = pattern.exec(seen);
      if (match) finish(() => resolve(match));
    };
    const onExit = (code: number | null): void =>
      finish(() => reject(new Error(`exited (${code}) before ${pattern}:\n${output()}`)));
    const timer = setTimeout(
      () => finish(() => reject(new Error(`no ${pattern} within ${timeoutMs} ms:\n${output()}`))),
      timeoutMs,
    );
    const finish = (settle: () => void): void => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.off('exit', onExit);
      settle();
    };
    child.stdout?.on('data', onData);
    child.once('exit', onExit);
  });
}

/** SIGTERM, then SIGKILL after a grace period; resolves once the child has exited. */
export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
  await exited;
  clearTimeout(timer);
}

/** CPU time the process has used, ms: user (its own code) and system (the kernel on its behalf). */
export function cpuTimes(pid: number): { userMs: number; systemMs: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name (which may hold spaces); utime, stime are 14, 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const toMs = (ticks: string | undefined): number =>
    (Number(ticks) * 1000) / CLOCK_TICKS_PER_SECOND;
  return { userMs: toMs(fields[11]), systemMs: toMs(fields[12]) };
}

/** User + system CPU time the process has used, ms. */
export function cpuTimeMs(pid: number): number {
  const { userMs, systemMs } = cpuTimes(pid);
  return userMs + systemMs;
}

/** Resident set size, bytes. */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
  return Number(kib) * 1024;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Rejects with `what` after `ms`, unless `promise` settles first. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** CPU time the whole machine has spent busy (all cores; everything but idle and iowait), ms. */
export function machineBusyMs(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  const fields = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal …; guest time is already counted in user.
  const busyTicks = [0, 1, 2, 5, 6, 7].reduce((sum, i) => sum + (fields[i] ?? 0), 0);
  return (busyTicks * 1000) / CLOCK_TICKS_PER_SECOND;
}

/** How often {@link TreeCpuMeter} looks at the process tree, ms. */
const TREE_SAMPLE_INTERVAL_MS = 500;

/**
 * CPU time used by a process and all its descendants while the meter runs, ms: what the bench
 * itself used, to tell it from the rest of the machine's work. Two lower bounds, the larger wins:
 * every descendant's own time when last seen (sampled every {@link TREE_SAMPLE_INTERVAL_MS}; misses
 * what a process uses after its last sample), and the live tree's own plus reaped children's time
 * (`cutime`; misses children reaped without it, as Chromium reaps its renderers).
 */
export class TreeCpuMeter {
  readonly #rootPid: number;
  readonly #ownAtStart = new Map<number, number>();
  readonly #ownLastSeen = new Map<number, number>();
  readonly #inclusiveAtStart: number;
  #inclusiveNow = 0;
  readonly #timer: NodeJS.Timeout;

  constructor(rootPid = process.pid) {
    this.#rootPid = rootPid;
    this.#sample();
    for (const [pid, ms] of this.#ownLastSeen) this.#ownAtStart.set(pid, ms);
    this.#inclusiveAtStart = this.#inclusiveNow;
    this.#timer = setInterval(() => this.#sample(), TREE_SAMPLE_INTERVAL_MS);
    this.#timer.unref();
  }

  /** CPU ms the tree has used since the meter was made (a lower bound); the meter keeps running. */
  usedMs(): number {
    this.#sample();
    let own = 0;
    for (const [pid, ms] of this.#ownLastSeen) own += ms - (this.#ownAtStart.get(pid) ?? 0);
    return Math.max(own, this.#inclusiveNow - this.#inclusiveAtStart);
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  #sample(): void {
    const parentOf = new Map<number, number>();
    const times = new Map<number, { own: number; children: number }>();
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        // After the name: ppid is fields[1]; utime, stime, cutime, cstime are fields[11..14].
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        const ms = (i: number): number => (Number(fields[i]) * 1000) / CLOCK_TICKS_PER_SECOND;
        parentOf.set(Number(entry), Number(fields[1]));
        times.set(Number(entry), { own: ms(11) + ms(12), children: ms(13) + ms(14) });
      } catch {
        // Exited while we looked.
      }
    }
    let inclusive = 0;
    for (const [pid, { own, children }] of times) {
      for (let p = pid, hops = 0; p > 1 && hops < 64; p = parentOf.get(p) ?? 0, hops++) {
        if (p !== this.#rootPid) continue;
        this.#ownLastSeen.set(pid, Math.max(own, this.#ownLastSeen.get(pid) ?? 0));
        inclusive += own + children;
        break;
      }
    }
    this.#inclusiveNow = inclusive;
  }
}
