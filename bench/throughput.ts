/**
 * Benchmark 3: data channel throughput between two browsers on this machine, our PeerLink against
 * a bare RTCDataChannel, in the same two Chromium processes and the same run. The page is
 * bench/browser/harness.ts, bundled by Vite as the app bundles PeerLink. Each variant sends
 * 16 KiB text messages with backpressure; a send that fails ("send queue is full") is counted.
 */
import { chromium, type Browser, type Page } from '@playwright/test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../e2e/chromium.ts';
import { withTimeout } from './proc.ts';
import { summarize, type Summary } from './stats.ts';
import { serveStatic } from './static-server.ts';
import type { SendResult, Variant } from './browser/harness.ts';

/** Size of every message, characters (= bytes, ASCII): the largest size every browser accepts. */
export const MESSAGE_CHARS = 16 * 1024;
const VARIANTS: readonly Variant[] = ['raw', 'link', 'stream'];
const OPEN_TIMEOUT_MS = 15_000;
const TRANSFER_TIMEOUT_MS = 60_000;

export interface ThroughputOptions {
  /** Timed transfers per variant; the order of variants rotates from one round to the next. */
  rounds: number;
  /** Bytes per timed transfer. */
  transferBytes: number;
  /** Sent and awaited before each timed transfer, so SCTP's congestion window has opened. */
  warmupBytes: number;
  log: (line: string) => void;
}

export interface ThroughputResult {
  /** MB/s (10^6 bytes per second) received, per variant. */
  mbPerSecond: Record<Variant, Summary>;
  /** Failed sends, all rounds together, and the first failure's message. */
  sendErrors: Record<Variant, SendResult>;
  transferBytes: number;
}

/** One connected pair of pages, sender (initiator) in `browsers[0]`, receiver in `browsers[1]`. */
async function connect(browsers: Browser[], url: string, variant: Variant): Promise<Page[]> {
  const pages = await Promise.all(
    browsers.map(async (browser) => (await browser.newContext()).newPage()),
  );
  const [sender, receiver] = pages as [Page, Page];
  for (const [page, other] of [
    [sender, receiver],
    [receiver, sender],
  ] as const) {
    await page.exposeFunction('benchSignal', (json: string) =>
      other.evaluate((data) => window.harness.signal(data), json),
    );
    await page.goto(url);
    await page.waitForFunction(() => window.harness !== undefined);
  }
  await receiver.evaluate((v) => window.harness.start(v, false), variant);
  await sender.evaluate((v) => window.harness.start(v, true), variant);
  await withTimeout(
    Promise.all(pages.map((page) => page.evaluate(() => window.harness.opened()))),
    OPEN_TIMEOUT_MS,
    `${variant}: data channel open`,
  );
  return pages;
}

/** Sends `bytes` more and resolves when the receiver has `receivedTotal` characters in all. */
async function transfer(
  [sender, receiver]: Page[],
  bytes: number,
  receivedTotal: number,
): Promise<{ ms: number; result: SendResult }> {
  const count = Math.ceil(bytes / MESSAGE_CHARS);
  const start = performance.now();
  const arrived = receiver!.evaluate((total) => window.harness.receive(total), receivedTotal);
  const result = await sender!.evaluate(([chars, n]) => window.harness.send(chars, n), [
    MESSAGE_CHARS,
    count,
  ] as const);
  await withTimeout(arrived, TRANSFER_TIMEOUT_MS, 'transfer');
  return { ms: performance.now() - start, result };
}

export async function benchThroughput(options: ThroughputOptions): Promise<ThroughputResult> {
  const { log } = options;
  const outDir = mkdtempSync(join(tmpdir(), 'bench-throughput-'));
  const browsers: Browser[] = [];
  const server = await (async () => {
    await build({
      configFile: fileURLToPath(new URL('browser/vite.config.ts', import.meta.url)),
      build: { outDir },
    });
    return serveStatic(outDir);
  })();
  const rates: Record<Variant, number[]> = { raw: [], link: [], stream: [] };
  const sendErrors: Record<Variant, SendResult> = {
    raw: { errors: 0, firstError: null },
    link: { errors: 0, firstError: null },
    stream: { errors: 0, firstError: null },
  };
  try {
    for (let i = 0; i < 2; i++) {
      browsers.push(await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS }));
    }
    const warmup = Math.ceil(options.warmupBytes / MESSAGE_CHARS) * MESSAGE_CHARS;
    const timed = Math.ceil(options.transferBytes / MESSAGE_CHARS) * MESSAGE_CHARS;
    for (let round = 0; round < options.rounds; round++) {
      const order = VARIANTS.map((_, i) => VARIANTS[(i + round) % VARIANTS.length]!);
      for (const variant of order) {
        const pages = await connect(browsers, server.url, variant);
        try {
          await transfer(pages, warmup, warmup);
          const { ms, result } = await transfer(pages, timed, warmup + timed);
          const mbps = timed / 1e6 / (ms / 1000);
          rates[variant].push(mbps);
          sendErrors[variant].errors += result.errors;
          sendErrors[variant].firstError ??= result.firstError;
          log(`throughput ${variant} round ${round + 1}: ${mbps.toFixed(1)} MB/s`);
        } finally {
          await Promise.all(pages.map((page) => page.context().close()));
        }
      }
    }
  } finally {
    await Promise.all(browsers.map((browser) => browser.close()));
    await server.close();
    rmSync(outDir, { recursive: true, force: true });
  }
  return {
    mbPerSecond: {
      raw: summarize(rates.raw),
      link: summarize(rates.link),
      stream: summarize(rates.stream),
    },
    sendErrors,
    transferBytes: options.transferBytes,
  };
}
