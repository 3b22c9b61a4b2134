/**
 * File throughput and chat latency under load (issue #11), in the NAT lab (cone ↔ cone: a
 * hole-punched direct path). Alice (host A) and Bob (host B) are in a room of the app.
 *
 * - Throughput: a file of `sizeMb` MB through the app (Bob's Accept → "Save" shown, which is after
 *   the SHA-256 check) against a raw `RTCDataChannel` sending the same number of bytes in
 *   messages of the app's chunk size with the same backpressure (wait for `bufferedamountlow`
 *   above 1 MiB, threshold 256 KiB), on the same path in the same run: the raw bytes go over the
 *   app's own `files` channel (Bob's page ignores them: their first byte is not the protocol
 *   version), so both use one SCTP association and one candidate pair. Interleaved per round.
 * - Chat latency: Alice sends a message every 100 ms through the page (the Message box and Send),
 *   Bob's page notes when each line appears; p50/p99 idle and while a file moves. One clock: the
 *   two browsers run on one machine.
 *
 * Run: `npx tsx bench/file-transfer.ts [rounds=3] [sizeMb=30]` as root, page built; `BENCH_NO_RAW=1`
 * skips the raw rounds; `BENCH_PROFILE=1` profiles both pages in the first app round (main-thread
 * busy share, top self-time functions, how often the sender's queue ran dry). Prints figures.
 */
import { chromium, type Browser, type CDPSession, type Page } from '@playwright/test';
import { randomBytes } from 'node:crypto';
import { CHROMIUM_ARGS } from '../e2e/chromium.ts';
import { buildNatLab } from '../e2e/lab/nat-lab.ts';
import { APP_PORT, startApp } from '../e2e/support/people.ts';
import { CHUNK_HEADER_BYTES } from '../web/src/lib/files/file-protocol.ts';
import { chunkBytesFor } from '../web/src/lib/files/transfer.ts';
import { SEND_BUFFER_LOW_BYTES } from '../web/src/lib/rtc/peer.ts';
import { summarize, type Summary } from './stats.ts';

const MB = 1_000_000;
/** `RTCSctpTransport.maxMessageSize` between two Chromiums, bytes. */
const CHROMIUM_MAX_MESSAGE_BYTES = 256 * 1024;

interface BenchWindow {
  __files: RTCDataChannel[];
  __got: number;
  __latencies: number[];
  __watch?: MutationObserver;
}

/** Keeps the `files` channel of every peer connection the page makes. Call before `goto`. */
async function newPage(browser: Browser): Promise<Page> {
  const context = await browser.newContext();
  await context.addInitScript('globalThis.__name = (f) => f;');
  await context.addInitScript(() => {
    const w = window as unknown as BenchWindow;
    w.__files = [];
    const Original = window.RTCPeerConnection;
    window.RTCPeerConnection = class extends Original {
      override createDataChannel(label: string, init?: RTCDataChannelInit): RTCDataChannel {
        const channel = super.createDataChannel(label, init);
        if (label === 'files') w.__files.push(channel);
        return channel;
      }
    };
  });
  return context.newPage();
}

/** Raw: `total` bytes in `size`-byte binary messages over the live `files` channel. MB/s. */
async function rawRound(alice: Page, bob: Page, size: number, total: number): Promise<number> {
  await bob.evaluate(() => {
    const w = window as unknown as BenchWindow;
    w.__got = 0;
    const channel = w.__files.at(-1)!;
    channel.onmessage = (event: MessageEvent<ArrayBuffer | string>) => {
      w.__got += typeof event.data === 'string' ? event.data.length : event.data.byteLength;
    };
  });
  const started = Date.now();
  await alice.evaluate(
    async ([size, total]) => {
      const channel = (window as unknown as BenchWindow).__files.at(-1)!;
      // Zeros: the first byte is not FILE_PROTOCOL_VERSION, so the app drops each message.
      const payload = new Uint8Array(size).buffer;
      channel.bufferedAmountLowThreshold = 256 * 1024;
      for (let sent = 0; sent < total; sent += size) {
        if (channel.bufferedAmount > 1024 * 1024) {
          await new Promise((resolve) =>
            channel.addEventListener('bufferedamountlow', resolve, { once: true }),
          );
        }
        channel.send(payload);
      }
    },
    [size, total] as const,
  );
  await bob.waitForFunction((t) => (window as unknown as BenchWindow).__got >= t, total, {
    timeout: 300_000,
    polling: 20,
  });
  return total / MB / ((Date.now() - started) / 1000);
}

/** Alice sends `name` (`bytes`) through the page; Bob accepts. Accept → Save shown, MB/s. */
async function appRound(
  alice: Page,
  bob: Page,
  name: string,
  bytes: Buffer,
  log: (line: string) => void,
  profile = false,
): Promise<number> {
  const chooser = alice.waitForEvent('filechooser');
  await alice.getByRole('button', { name: 'Send file' }).click();
  await (await chooser).setFiles({ name, mimeType: '', buffer: bytes });
  const line = bob.getByRole('listitem', { name: `File ${name}` });
  await line.waitFor();
  // From Accept on: not Playwright's own work of putting the file into the page.
  const sessions = profile ? [await startProfile(alice), await startProfile(bob)] : null;
  if (sessions) await alice.evaluate(sampleBuffered);
  await line.getByRole('button', { name: 'Accept' }).click();
  const started = Date.now();
  await line.getByRole('link', { name: 'Save' }).waitFor({ timeout: 300_000 });
  const rate = bytes.length / MB / ((Date.now() - started) / 1000);
  if (sessions) {
    log(await alice.evaluate(bufferedReport, SEND_BUFFER_LOW_BYTES));
    await printProfile('sender (Alice)', sessions[0]!, log);
    await printProfile('recipient (Bob)', sessions[1]!, log);
  }
  return rate;
}

interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

/** In Alice's page: samples the `files` channel's `bufferedAmount` every 5 ms. */
function sampleBuffered(): void {
  const w = window as unknown as BenchWindow & { __buffered: number[]; __sampler: number };
  const channel = w.__files.at(-1)!;
  w.__buffered = [];
  clearInterval(w.__sampler);
  w.__sampler = window.setInterval(() => w.__buffered.push(channel.bufferedAmount), 5);
}

/** What {@link sampleBuffered} saw: how often the send queue ran dry while the file moved. */
function bufferedReport(lowBytes: number): string {
  const w = window as unknown as BenchWindow & { __buffered: number[]; __sampler: number };
  clearInterval(w.__sampler);
  const samples = w.__buffered;
  const first = samples.findIndex((b) => b > 0);
  const moving = samples.slice(first, samples.findLastIndex((b) => b > 0) + 1);
  const empty = moving.filter((b) => b === 0).length;
  const low = moving.filter((b) => b < lowBytes).length;
  const mean = moving.reduce((a, b) => a + b, 0) / Math.max(1, moving.length);
  return (
    `sender's files queue (${moving.length} samples, 5 ms apart): empty ${((100 * empty) / moving.length).toFixed(0)}%, ` +
    `under ${lowBytes / 1024} KiB ${((100 * low) / moving.length).toFixed(0)}%, mean ${(mean / 1024).toFixed(0)} KiB`
  );
}

/** Starts V8's sampling CPU profiler in `page` (`BENCH_PROFILE=1`). */
async function startProfile(page: Page): Promise<CDPSession> {
  const session = await page.context().newCDPSession(page);
  await session.send('Profiler.enable');
  await session.send('Profiler.setSamplingInterval', { interval: 200 });
  await session.send('Profiler.start');
  return session;
}

/** Stops the profiler and prints the main thread's busy share and top self-time functions. */
async function printProfile(who: string, session: CDPSession, log: (line: string) => void) {
  const { profile } = await session.send('Profiler.stop');
  const nodes = profile.nodes as ProfileNode[];
  const total = nodes.reduce((sum, node) => sum + (node.hitCount ?? 0), 0);
  const self = new Map<string, number>();
  for (const node of nodes) {
    const { functionName, url, lineNumber } = node.callFrame;
    const file = url.split('/').at(-1) ?? '';
    const key = `${functionName || '(anonymous)'} ${file}:${lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + (node.hitCount ?? 0));
  }
  const idle = [...self].filter(([key]) => key.startsWith('(idle)'));
  const idleHits = idle.reduce((sum, [, hits]) => sum + hits, 0);
  log(`${who}: main thread busy ${((100 * (total - idleHits)) / total).toFixed(0)}% of samples`);
  for (const [key, hits] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 12)) {
    log(`  ${((100 * hits) / total).toFixed(1).padStart(5)}%  ${key}`);
  }
}

/** In Alice's page: sends `count` chat lines `ping <Date.now()>`, one per `everyMs`. */
function pings([count, everyMs]: readonly [number, number]): Promise<void> {
  return (async () => {
    const box = document.querySelector<HTMLInputElement>('input[aria-label="Message"]')!;
    for (let i = 0; i < count; i++) {
      box.value = `ping ${Date.now()}`;
      box.dispatchEvent(new Event('input', { bubbles: true }));
      box.form!.requestSubmit();
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  })();
}

/** In Bob's page: notes each `ping <t>` line's delay as it appears in Messages. */
function watchPings(): void {
  const w = window as unknown as BenchWindow;
  w.__latencies = [];
  const list = document.querySelector('[aria-label="Messages"]')!;
  // Lines already shown (an earlier phase's) are not news.
  const seen = new Set([...(list.textContent ?? '').matchAll(/ping (\d+)/g)].map((m) => m[1]!));
  w.__watch?.disconnect();
  w.__watch = new MutationObserver(() => {
    const now = Date.now();
    for (const match of (list.textContent ?? '').matchAll(/ping (\d+)/g)) {
      if (seen.has(match[1]!)) continue;
      seen.add(match[1]!);
      w.__latencies.push(now - Number(match[1]));
    }
  });
  w.__watch.observe(list, { childList: true, subtree: true, characterData: true });
}

async function latencies(alice: Page, bob: Page, count: number): Promise<number[]> {
  await bob.evaluate(watchPings);
  await alice.evaluate(pings, [count, 100] as const);
  await bob.waitForFunction(
    (n) => (window as unknown as BenchWindow).__latencies.length >= n,
    count,
    { timeout: 60_000 },
  );
  return bob.evaluate(() => (window as unknown as BenchWindow).__latencies);
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
};

/** What the bench found. */
export interface FileBenchResult {
  /** Payload bytes per chunk message. */
  chunkBytes: number;
  app: Summary;
  raw: Summary;
  /** app median / raw median. */
  ratio: number;
  /** Chat latency, ms. */
  idle: { p50: number; p99: number; count: number };
  busy: { p50: number; p99: number; count: number };
}

export async function benchFileTransfer(
  rounds: number,
  sizeMb: number,
  log: (line: string) => void,
): Promise<FileBenchResult> {
  const lab = await buildNatLab({ natA: 'cone', natB: 'cone', prefix: 'bf-' });
  const browsers: Browser[] = [];
  try {
    // The app as `npm start` runs it, as the lab e2e specs start it.
    await startApp(lab, { LOG_LEVEL: 'warn' });
    for (const host of [lab.hosts.a, lab.hosts.b]) {
      browsers.push(
        await chromium.launch({ executablePath: host.chromiumWrapper, args: CHROMIUM_ARGS }),
      );
    }
    const alice = await newPage(browsers[0]!);
    const bob = await newPage(browsers[1]!);
    await alice.goto(`http://${lab.serverIp}:${APP_PORT}/`);
    await alice.getByRole('button', { name: 'Create room' }).click();
    await bob.goto(await alice.getByRole('textbox', { name: 'Room link' }).inputValue());
    for (const page of [alice, bob]) {
      await page.getByRole('status').filter({ hasText: 'Connected directly' }).waitFor();
    }
    const total = sizeMb * MB;
    const bytes = randomBytes(total);
    // The app's chunk for Chromium's maxMessageSize (256 KiB on both sides, RTCSctpTransport).
    const chunkBytes = chunkBytesFor(CHROMIUM_MAX_MESSAGE_BYTES, CHUNK_HEADER_BYTES);
    const app: number[] = [];
    const raw: number[] = [];
    await rawRound(alice, bob, chunkBytes + CHUNK_HEADER_BYTES, 4 * MB); // warm-up
    for (let round = 0; round < rounds; round++) {
      if (!process.env.BENCH_NO_RAW)
        raw.push(await rawRound(alice, bob, chunkBytes + CHUNK_HEADER_BYTES, total));
      const profile = process.env.BENCH_PROFILE === '1' && round === 0;
      app.push(await appRound(alice, bob, `r${round}.bin`, bytes, log, profile));
      log(
        `round ${round + 1}: raw ${raw.at(-1)?.toFixed(1)} MB/s, app ${app.at(-1)!.toFixed(1)} MB/s`,
      );
    }
    const idle = await latencies(alice, bob, 50);
    // Chat while a file moves: Bob accepts, then the pings start.
    const chooser = alice.waitForEvent('filechooser');
    await alice.getByRole('button', { name: 'Send file' }).click();
    await (await chooser).setFiles({ name: 'busy.bin', mimeType: '', buffer: bytes });
    const line = bob.getByRole('listitem', { name: 'File busy.bin' });
    await line.getByRole('button', { name: 'Accept' }).click();
    await line.getByRole('progressbar').waitFor();
    const busyCount = 30;
    const busy = await latencies(alice, bob, busyCount);
    const stillMoving = (await line.getByRole('link', { name: 'Save' }).count()) === 0;
    const result: FileBenchResult = {
      chunkBytes,
      app: summarize(app),
      raw: summarize(raw),
      ratio: 0,
      idle: { p50: percentile(idle, 50), p99: percentile(idle, 99), count: idle.length },
      busy: { p50: percentile(busy, 50), p99: percentile(busy, 99), count: busy.length },
    };
    result.ratio = result.app.median / result.raw.median;
    log(
      `${sizeMb} MB, chunk ${chunkBytes} B: app median ${result.app.median.toFixed(1)} MB/s ` +
        `(${result.app.min.toFixed(1)}–${result.app.max.toFixed(1)}), raw median ${result.raw.median.toFixed(1)} MB/s ` +
        `(${result.raw.min.toFixed(1)}–${result.raw.max.toFixed(1)}), ${result.ratio.toFixed(2)}×`,
    );
    log(
      `chat latency: idle p50 ${result.idle.p50} ms p99 ${result.idle.p99} ms (n=${idle.length}); ` +
        `during a transfer p50 ${result.busy.p50} ms p99 ${result.busy.p99} ms (n=${busy.length}` +
        `${stillMoving ? ', the file still moving at the last one' : ', the file finished before the last one'})`,
    );
    return result;
  } finally {
    for (const browser of browsers) await browser.close();
    await lab.teardown();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rounds = Number(process.argv[2] ?? 3);
  const sizeMb = Number(process.argv[3] ?? 30);
  await benchFileTransfer(rounds, sizeMb, (line) => console.log(line));
}
