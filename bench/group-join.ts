/**
 * Joining a group room (issue #10): k people (k = 1..7) are in a room behind NAT A; a newcomer
 * behind NAT B opens the link. Measured: the newcomer's page open → every data channel open
 * (its own timeline, the latest "Data channel open" over its k "Connection to …" sections),
 * against k bare RTCPeerConnection pairs with trickle ICE that this bench sets up itself between
 * the same browsers in the same run (page open → every channel open). Both cone NATs: every path
 * is hole-punched. Goal: app ≤ 1.5× bare at every k. Figures, not a timed test.
 *
 * Run: `npx tsx bench/group-join.ts [runs=3] [maxK=7] [minK=1]` as root (the NAT lab), page built;
 * `BENCH_TIMELINE=1` also prints the newcomer's first connection timeline of each run.
 */
import { chromium, type Browser, type Page } from '@playwright/test';
import { CHROMIUM_ARGS } from '../e2e/chromium.ts';
import { buildNatLab } from '../e2e/lab/nat-lab.ts';
import { APP_PORT, APP_STUN_PORT, startApp } from '../e2e/support/people.ts';
import { elementAppears, NAT_TESTED } from './in-page.ts';
import { withTimeout } from './proc.ts';
import { summarize, type Summary } from './stats.ts';

const OPEN_TIMEOUT_MS = 60_000;

/** Runs in the page: resolves once every one of `count` timelines lists "Data channel open". */
function allOpen(count: number): Promise<number> {
  const read = (): number | null => {
    const lists = [...document.querySelectorAll('[aria-label="Connection timeline"]')];
    const times = lists.map((list) => {
      const item = [...list.querySelectorAll('li')].find((li) =>
        li.textContent?.includes('Data channel open'),
      );
      const ms = /(\d+) ms/.exec(item?.textContent ?? '')?.[1];
      return ms === undefined ? null : Number(ms);
    });
    if (times.length < count || times.some((t) => t === null)) return null;
    return Math.max(...(times as number[]));
  };
  return new Promise((resolve) => {
    const observer = new MutationObserver(() => {
      const done = read();
      if (done === null) return;
      observer.disconnect();
      resolve(done);
    });
    observer.observe(document.body, { childList: true, subtree: true, characterData: true });
    const done = read();
    if (done !== null) {
      observer.disconnect();
      resolve(done);
    }
  });
}

/**
 * A page in a fresh context. tsx names the functions it compiles with a `__name` helper that the
 * page does not have; an identity stand-in lets the in-page functions above run as written.
 */
async function newPage(browser: Browser): Promise<Page> {
  const context = await browser.newContext();
  await context.addInitScript('globalThis.__name = (f) => f;');
  const page = await context.newPage();
  const errors: string[] = [];
  consoleErrors.set(page, errors);
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') errors.push(message.text());
  });
  page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`));
  return page;
}

/** Each page's console errors and warnings, for {@link dumpPeople}. */
const consoleErrors = new WeakMap<Page, string[]>();

/** On a timeout: what each page's "People" list, status line and console say, to see which pair hung. */
async function dumpPeople(pages: Page[]): Promise<void> {
  for (const [i, page] of pages.entries()) {
    const people = await page
      .getByRole('list', { name: 'People' })
      .getByRole('listitem')
      .allTextContents()
      .catch(() => ['(no People list)']);
    const status = await page
      .getByRole('status')
      .first()
      .textContent()
      .catch(() => '?');
    console.log(`page ${i}: status "${status}"`);
    for (const line of people) console.log(`  ${line.replace(/\s+/g, ' ').trim()}`);
    for (const line of consoleErrors.get(page) ?? []) console.log(`  console: ${line}`);
  }
}

/** `promise` within {@link OPEN_TIMEOUT_MS}; on a timeout, prints what `pages` show first. */
async function opensWithin<T>(promise: Promise<T>, what: string, pages: Page[]): Promise<T> {
  try {
    return await withTimeout(promise, OPEN_TIMEOUT_MS, what);
  } catch (error) {
    await dumpPeople(pages);
    throw error;
  }
}

/** One app run: k people in a room on A, then the newcomer on B. The newcomer's figure, ms. */
async function appRun(base: string, a: Browser, b: Browser, k: number): Promise<number> {
  const members: Page[] = [];
  const newcomer = await newPage(b);
  try {
    for (let i = 0; i < k; i++) members.push(await newPage(a));
    const [first] = members;
    if (!first) throw new Error('no members');
    await first.goto(base);
    await first.getByRole('button', { name: 'Create room' }).click();
    const link = await first.getByRole('textbox', { name: 'Room link' }).inputValue();
    for (const page of members.slice(1)) await page.goto(link);
    // The newcomer comes once the room is up, as in life (a link is shared, then opened):
    // every member connected and done with what a page does once (its NAT test, its panel).
    for (const page of members) {
      await opensWithin(page.evaluate(allOpen, k - 1), 'members connected', members);
      await opensWithin(page.evaluate(elementAppears, NAT_TESTED), 'member NAT test', members);
    }
    await newcomer.goto(link);
    const done = await opensWithin(newcomer.evaluate(allOpen, k), 'newcomer connected', [
      ...members,
      newcomer,
    ]);
    if (process.env.BENCH_TIMELINE) {
      const first = newcomer.getByRole('list', { name: 'Connection timeline' }).first();
      console.log((await first.getByRole('listitem').allTextContents()).join('\n'));
    }
    return done;
  } finally {
    await Promise.all([...members, newcomer].map((page) => page.context().close()));
  }
}

interface BareWindow {
  barePeers: RTCPeerConnection[];
  bareOut(index: number, json: string): Promise<void>;
  bareIn(index: number, json: string): Promise<void>;
  bareOpen: Promise<number>;
}

/** Runs in a page: sets up `count` peer connections (offering when `offerer`). */
function bareSetup([count, offerer, stun]: [number, boolean, string]): void {
  const w = window as unknown as BareWindow;
  w.barePeers = [];
  const opened: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    const pc = new RTCPeerConnection({ iceServers: [{ urls: stun }] });
    w.barePeers.push(pc);
    const index = i;
    pc.addEventListener('icecandidate', (event) => {
      if (event.candidate) void w.bareOut(index, JSON.stringify({ candidate: event.candidate }));
    });
    opened.push(
      new Promise<void>((resolve) => {
        const watch = (channel: RTCDataChannel) =>
          channel.addEventListener('open', () => resolve(), { once: true });
        if (offerer) watch(pc.createDataChannel('chat'));
        else pc.addEventListener('datachannel', (event) => watch(event.channel));
      }),
    );
    if (offerer) {
      void pc
        .createOffer()
        .then((offer) => pc.setLocalDescription(offer))
        .then(() => w.bareOut(index, JSON.stringify({ sdp: pc.localDescription })));
    }
  }
  w.bareIn = async (index: number, json: string) => {
    const pc = w.barePeers[index];
    if (!pc) return;
    const data = JSON.parse(json) as {
      sdp?: RTCSessionDescriptionInit;
      candidate?: RTCIceCandidateInit;
    };
    if (data.sdp) {
      await pc.setRemoteDescription(data.sdp);
      if (data.sdp.type === 'offer') {
        await pc.setLocalDescription(await pc.createAnswer());
        await w.bareOut(index, JSON.stringify({ sdp: pc.localDescription }));
      }
    } else if (data.candidate) {
      await pc.addIceCandidate(data.candidate);
    }
  };
  w.bareOpen = Promise.all(opened).then(() => performance.now());
}

/** One bare run: the newcomer page on B offers to k plain pages on A. Page open → all open, ms. */
async function bareRun(
  base: string,
  stun: string,
  a: Browser,
  b: Browser,
  k: number,
): Promise<number> {
  const members: Page[] = [];
  const newcomer = await newPage(b);
  try {
    for (let i = 0; i < k; i++) members.push(await newPage(a));
    // Each member answers pair 0 of its own page; the newcomer's pair i talks to member i.
    for (const [i, page] of members.entries()) {
      await page.exposeFunction('bareOut', (_index: number, json: string) =>
        newcomer.evaluate(([at, data]) => (window as unknown as BareWindow).bareIn(at, data), [
          i,
          json,
        ] as const),
      );
    }
    await newcomer.exposeFunction('bareOut', (index: number, json: string) =>
      members[index]?.evaluate((data) => (window as unknown as BareWindow).bareIn(0, data), json),
    );
    for (const page of members) {
      await page.goto(`${base}healthz`);
      await page.evaluate(bareSetup, [1, false, stun] as [number, boolean, string]);
    }
    await newcomer.goto(`${base}healthz`);
    await newcomer.evaluate(bareSetup, [k, true, stun] as [number, boolean, string]);
    return await withTimeout(
      newcomer.evaluate(() => (window as unknown as BareWindow).bareOpen),
      OPEN_TIMEOUT_MS,
      'bare channels open',
    );
  } finally {
    await Promise.all([...members, newcomer].map((page) => page.context().close()));
  }
}

/** Per k: median, min and max of both, and the ratio of the medians. */
export interface GroupJoinRow {
  k: number;
  app: Summary;
  bare: Summary;
  ratio: number;
}

/** Runs the bench; `log` gets one line per k. */
export async function benchGroupJoin(
  runs: number,
  maxK: number,
  minK: number,
  log: (line: string) => void,
): Promise<GroupJoinRow[]> {
  const lab = await buildNatLab({ natA: 'cone', natB: 'cone', prefix: 'bj-' });
  const browsers: Browser[] = [];
  try {
    // The app as `npm start` runs it, as the lab e2e specs start it.
    await startApp(lab, { LOG_LEVEL: 'warn' });
    const launch = async (wrapper: string) => {
      const browser = await chromium.launch({ executablePath: wrapper, args: CHROMIUM_ARGS });
      browsers.push(browser);
      return browser;
    };
    const a = await launch(lab.hosts.a.chromiumWrapper);
    const b = await launch(lab.hosts.b.chromiumWrapper);
    const base = `http://${lab.serverIp}:${APP_PORT}/`;
    const stun = `stun:${lab.serverIp}:${APP_STUN_PORT}`;
    const rows: GroupJoinRow[] = [];
    for (let k = minK; k <= maxK; k++) {
      const app: number[] = [];
      const bare: number[] = [];
      // Interleaved, so a slow moment of the machine hits both alike.
      for (let run = 0; run < runs; run++) {
        bare.push(await bareRun(base, stun, a, b, k));
        app.push(await appRun(base, a, b, k));
      }
      const row = { k, app: summarize(app), bare: summarize(bare), ratio: 0 };
      row.ratio = row.app.median / row.bare.median;
      rows.push(row);
      log(
        `k=${k}: app median ${row.app.median.toFixed(0)} ms (${row.app.min.toFixed(0)}–${row.app.max.toFixed(0)}), bare median ${row.bare.median.toFixed(0)} ms (${row.bare.min.toFixed(0)}–${row.bare.max.toFixed(0)}), ${row.ratio.toFixed(2)}×`,
      );
    }
    return rows;
  } finally {
    for (const browser of browsers) await browser.close();
    await lab.teardown();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const runs = Number(process.argv[2] ?? 3);
  const maxK = Number(process.argv[3] ?? 7);
  const minK = Number(process.argv[4] ?? 1);
  await benchGroupJoin(runs, maxK, minK, (line) => console.log(line));
}
