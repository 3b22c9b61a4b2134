/**
 * Signaling bytes per person per idle minute (issue #10): n people in one room on loopback, all
 * connected, then a quiet window in which nobody types. Counted: every WebSocket frame each page
 * sends and receives (payload bytes, UTF-8), from Chromium's own DevTools events, split by message
 * type. Before issue #10 every page pushed its diagnostics view to the other every 2 s; now views
 * travel only when they change or when asked for. Figures, not a timed test.
 *
 * Run: `npx tsx bench/idle-bytes.ts <repoDir> <people> [port=18095] [windowMs=60000]`; the repo's
 * page must be built (`npx vite build` in it). `repoDir` lets the same command measure an older
 * checkout (`git worktree add /tmp/before <rev>`).
 */
import { chromium, type Page } from '@playwright/test';
import { spawn } from 'node:child_process';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../e2e/chromium.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Per person per minute, bytes: medians over the room, and the by-type mean per person. */
export interface IdleBytesResult {
  people: number;
  windowMs: number;
  sentBytesPerMin: number;
  receivedBytesPerMin: number;
  /** Keys `sent <type>` / `received <type>` (`signal:<data.type>` for relayed signals). */
  byTypePerMin: Record<string, number>;
}

/** Measures one room of `people` on the server of `repoDir`. */
export async function benchIdleBytes(
  repoDir: string,
  people: number,
  port = 18095,
  windowMs = 60_000,
): Promise<IdleBytesResult> {
  const server = spawn(`${repoDir}/node_modules/.bin/tsx`, ['signaling/main.ts'], {
    cwd: repoDir,
    env: {
      ...process.env,
      HOST: '127.0.0.1',
      PORT: String(port),
      STUN_PORT: String(port + 100),
      LOG_LEVEL: 'warn',
      ROOM_SIZE: String(Math.max(people, 2)),
    },
    stdio: 'inherit',
  });
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
  try {
    for (let i = 0; i < 100; i++) {
      const up = await fetch(`http://127.0.0.1:${port}/healthz`).then(
        (response) => response.ok,
        () => false,
      );
      if (up) break;
      await sleep(200);
    }
    let counting = false;
    const pages: Page[] = [];
    const traffic: { sent: number; received: number; byType: Record<string, number> }[] = [];
    for (let i = 0; i < people; i++) {
      const page = await (await browser.newContext()).newPage();
      const seen = { sent: 0, received: 0, byType: {} as Record<string, number> };
      traffic.push(seen);
      const cdp = await page.context().newCDPSession(page);
      await cdp.send('Network.enable');
      const count =
        (direction: 'sent' | 'received') => (event: { response: { payloadData: string } }) => {
          if (!counting) return;
          const bytes = Buffer.byteLength(event.response.payloadData);
          seen[direction] += bytes;
          let type = '?';
          try {
            const message = JSON.parse(event.response.payloadData) as {
              type?: string;
              data?: { type?: string };
            };
            type =
              message.type === 'signal' ? `signal:${message.data?.type}` : String(message.type);
          } catch {
            // not JSON: counted as '?'
          }
          const key = `${direction} ${type}`;
          seen.byType[key] = (seen.byType[key] ?? 0) + bytes;
        };
      cdp.on('Network.webSocketFrameSent', count('sent'));
      cdp.on('Network.webSocketFrameReceived', count('received'));
      pages.push(page);
    }
    const [first] = pages;
    if (!first) throw new Error('no people');
    await first.goto(`http://127.0.0.1:${port}/`);
    await first.getByRole('button', { name: 'Create room' }).click();
    const link = await first.getByRole('textbox', { name: 'Room link' }).inputValue();
    for (const page of pages.slice(1)) await page.goto(link);
    // Connected to everyone: "Connected directly, …" (one other) or "Connected to all n …".
    const started = Date.now();
    for (const page of pages) {
      for (;;) {
        const status = (await page.getByRole('status').textContent()) ?? '';
        if (/^Connected/.test(status) && !/ of /.test(status)) break;
        if (Date.now() - started > 120_000) throw new Error(`not connected: ${status}`);
        await sleep(500);
      }
    }
    await sleep(10_000); // setup traffic settles
    counting = true;
    await sleep(windowMs);
    counting = false;
    const perMin = (bytes: number) => Math.round((bytes * 60_000) / windowMs);
    const median = (values: number[]) =>
      [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)] ?? NaN;
    const byType: Record<string, number> = {};
    for (const seen of traffic) {
      for (const [key, bytes] of Object.entries(seen.byType)) {
        byType[key] = (byType[key] ?? 0) + perMin(bytes) / people;
      }
    }
    return {
      people,
      windowMs,
      sentBytesPerMin: median(traffic.map((seen) => perMin(seen.sent))),
      receivedBytesPerMin: median(traffic.map((seen) => perMin(seen.received))),
      byTypePerMin: Object.fromEntries(
        Object.entries(byType).map(([key, bytes]) => [key, Math.round(bytes)]),
      ),
    };
  } finally {
    await browser.close();
    server.kill();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [repoDir = '.', people = '2', port = '18095', windowMs = '60000'] = process.argv.slice(2);
  console.log(
    JSON.stringify(await benchIdleBytes(repoDir, Number(people), Number(port), Number(windowMs))),
  );
}
