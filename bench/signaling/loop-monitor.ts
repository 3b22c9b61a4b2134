/**
 * Preloaded (`--import`) into both servers under load: samples the event loop's delay and, on
 * SIGUSR2, prints `loop-delay <p99 ms> <max ms>` and starts afresh. A server whose relays wait
 * while its CPU is idle-ish has stalled somewhere (a GC pause, a long loop); this says how long.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';

/** Sampling resolution, ms: fine enough for the 50 ms p99 limit the bench applies. */
const RESOLUTION_MS = 1;

const delay = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
delay.enable();
process.on('SIGUSR2', () => {
  const ms = (ns: number): string => (ns / 1e6).toFixed(1);
  console.log(`loop-delay ${ms(delay.percentile(99))} ${ms(delay.max)}`);
  delay.reset();
});
