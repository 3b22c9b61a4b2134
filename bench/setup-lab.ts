/**
 * Benchmark 2: connection setup through two NATs (cone ↔ cone) in the NAT lab (e2e/lab/nat-lab.ts),
 * as e2e/nat-chat.spec.ts sets it up: the app server in the lab's server namespace, one Chromium
 * behind each NAT. Three kinds of run, in turn:
 *
 * - `ours`: the app. A creates a room, B opens the link; the figure is B's own panel timeline,
 *   from opening the link to "Data channel open", with every step it lists.
 * - `raw`, the baseline: both open a tiny page from the same server (`/healthz`), get a bare
 *   RTCPeerConnection (bench/browser/raw-peer.ts, same STUN server), and the bench itself relays
 *   offer, answer and candidates between the pages. B's clock also starts when it opens its page.
 * - `link`: the same as `raw` but through our PeerLink (bench/browser/link-peer.ts), to tell the
 *   wrapper's share of the difference from the app's (page, signaling server, session logic).
 *
 * The lab's namespace prefix is `bn-` (env `BENCH_NAT_LAB_PREFIX`), so the bench and the e2e
 * tests (`hp-`) can run at the same time.
 */
import { chromium, type Browser, type Page } from '@playwright/test';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import { simplePeerPolyfills } from '../vite.config.ts';
import { CHROMIUM_ARGS } from '../e2e/chromium.ts';
import { buildNatLab, type NatLab } from '../e2e/lab/nat-lab.ts';
import type { Mark } from './browser/raw-peer.ts';
import { withTimeout } from './proc.ts';
import { elementAppears, NAT_TESTED } from './in-page.ts';
import { summarize, type Summary } from './stats.ts';

export type SetupKind = 'ours' | 'link' | 'raw';

export interface SetupOptions {
  /** Runs per kind, alternating. */
  runs: number;
  /** The app built by the bench (see `buildApp` in page-weight.ts). */
  appDir: string;
  log: (line: string) => void;
}

export interface SetupSummary {
  /** B opens its page → data channel open, ms. */
  totalMs: Summary;
  /** Peer connection created → data channel open, ms: the WebRTC part alone. */
  webrtcMs: Summary;
  /** Each timeline step, ms since B opened its page. */
  phases: Map<string, Summary>;
}

export interface SetupResult {
  summaries: Record<SetupKind, SetupSummary>;
  failures: Record<SetupKind, number>;
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const APP_PORT = 8080;
const STUN_PORT = 3478;
const OPEN_TIMEOUT_MS = 20_000;
/** Where the WebRTC part starts: the app creates its PeerLink right after this step. */
const PEER_CREATED: Record<SetupKind, string> = {
  ours: 'Other person in the room',
  link: 'Peer connection created',
  raw: 'Peer connection created',
};
const DATA_CHANNEL_OPEN = 'Data channel open';
/** The scripted kinds: their browser module, and the class it exports. */
const SCRIPTED = {
  raw: { entry: 'browser/raw-peer.ts', className: 'RawPeer' },
  link: { entry: 'browser/link-peer.ts', className: 'LinkPeer' },
} as const;
type ScriptedKind = keyof typeof SCRIPTED;

/** What raw-peer.ts's RawPeer and link-peer.ts's LinkPeer have in common. */
interface ScriptedPeer {
  readonly open: Promise<unknown>;
  readonly marks: Mark[];
  signal(data: unknown): unknown;
}

interface BenchWindow {
  benchPeerModule: Record<
    string,
    new (
      initiator: boolean,
      iceServers: RTCIceServer[],
      out: (data: unknown) => void,
    ) => ScriptedPeer
  >;
  benchPeer: ScriptedPeer;
  benchSignal(json: string): Promise<void>;
}

/** A browser module as a script that defines `window.benchPeerModule`. */
async function peerScript(entry: string): Promise<string> {
  const output = await build({
    configFile: false,
    logLevel: 'warn',
    // simple-peer (in link-peer.ts) needs what the app's build gives it; see vite.config.ts.
    plugins: [simplePeerPolyfills()],
    build: {
      write: false,
      target: 'es2022',
      minify: true,
      lib: {
        entry: fileURLToPath(new URL(entry, import.meta.url)),
        formats: ['iife'],
        name: 'benchPeerModule',
        fileName: 'peer',
      },
    },
  });
  const result = Array.isArray(output) ? output[0] : output;
  const chunk = result && 'output' in result ? result.output[0] : undefined;
  if (!chunk || chunk.type !== 'chunk') throw new Error(`vite produced no script for ${entry}`);
  return chunk.code;
}

/** "123 ms Data channel open (+45 ms after DTLS connected)" → the label and 123. */
export function parseTimelineItem(text: string): Mark | null {
  const match = /^\s*(\d+)\s*ms\s+(.+?)(?:\s+\(\+[^)]*\))?\s*$/s.exec(text);
  return match ? { label: match[2]!.trim(), atMs: Number(match[1]) } : null;
}

/**
 * Where the page load went, from the page's Navigation and Resource Timing: the HTML and the
 * scripts arrived, and DOMContentLoaded, which waits for module scripts to run (the app mounts
 * in its module script).
 */
async function pageLoadMarks(page: Page): Promise<Mark[]> {
  return page.evaluate(() => {
    const [navigation] = performance.getEntriesByType(
      'navigation',
    ) as PerformanceNavigationTiming[];
    const scripts = performance
      .getEntriesByType('resource')
      .filter((entry) => entry.name.endsWith('.js')) as PerformanceResourceTiming[];
    const marks: { label: string; atMs: number }[] = [];
    if (navigation)
      marks.push({ label: '(page load) HTML received', atMs: navigation.responseEnd });
    if (scripts.length > 0) {
      const atMs = Math.max(...scripts.map((entry) => entry.responseEnd));
      marks.push({ label: '(page load) scripts received', atMs });
    }
    if (navigation) {
      marks.push({
        label: '(page load) DOMContentLoaded',
        atMs: navigation.domContentLoadedEventEnd,
      });
    }
    return marks;
  });
}

/**
 * A page in a fresh context. `bypassCSP` for the scripted runs only: they inject their peer as an
 * inline script into the server's `/healthz`, which the server's CSP (script-src 'self') forbids.
 */
async function newPage(browser: Browser, { bypassCSP = false } = {}): Promise<Page> {
  return (await browser.newContext({ bypassCSP })).newPage();
}

/**
 * Runs in the page: resolves once the connection timeline lists `label`, watching the DOM with a
 * MutationObserver (no polling). No named inner functions: tsx would wrap them in a `__name`
 * helper that does not exist in the page.
 */
function timelineShows(label: string): Promise<void> {
  const selector = '[aria-label="Connection timeline"]';
  return new Promise((resolve) => {
    const observer = new MutationObserver(() => {
      if (!document.querySelector(selector)?.textContent?.includes(label)) return;
      observer.disconnect();
      resolve();
    });
    observer.observe(document.body, { childList: true, subtree: true, characterData: true });
    if (document.querySelector(selector)?.textContent?.includes(label)) {
      observer.disconnect();
      resolve();
    }
  });
}

/** One run through the app; B's timeline. */
async function ours(lab: NatLab, a: Browser, b: Browser): Promise<Mark[]> {
  const alice = await newPage(a);
  const bob = await newPage(b);
  // A page that never shows its button has usually thrown: say what, not only "timeout".
  const errors: string[] = [];
  alice.on('pageerror', (error) => errors.push(error.message));
  try {
    await alice.goto(`http://${lab.serverIp}:${APP_PORT}/`);
    await alice
      .getByRole('button', { name: 'Create room' })
      .click({ timeout: OPEN_TIMEOUT_MS })
      .catch((error: Error) => {
        const thrown = errors.length > 0 ? errors.join(' | ') : 'nothing';
        throw new Error(`${error.message.split('\n')[0]}; the page threw: ${thrown}`);
      });
    const link = await alice.getByRole('textbox', { name: 'Room link' }).inputValue();
    // A person shares the link after their page is up, seconds later: B opens it once A's page
    // has done what it does alone (its NAT test, its panel), not while it competes with B's set-up
    // for A's main thread and the machine's two cores.
    await withTimeout(alice.evaluate(elementAppears, NAT_TESTED), OPEN_TIMEOUT_MS, 'A NAT test');
    await bob.goto(link);
    // Waits the way the scripted runs do, on a promise in the page: a locator's `waitFor` would
    // evaluate its role selector on B's main thread over and over while B connects, a cost the
    // baselines do not pay. The marks are the app's own timestamps, so how soon this wait
    // returns does not change them.
    await withTimeout(
      bob.evaluate(timelineShows, DATA_CHANNEL_OPEN),
      OPEN_TIMEOUT_MS,
      `app ${DATA_CHANNEL_OPEN}`,
    );
    const steps = bob.getByRole('list', { name: 'Connection timeline' }).getByRole('listitem');
    const marks = (await steps.allTextContents()).map(parseTimelineItem);
    return [...marks.filter((mark): mark is Mark => mark !== null), ...(await pageLoadMarks(bob))];
  } finally {
    await Promise.all([alice.context().close(), bob.context().close()]);
  }
}

/** One scripted run: a peer module on a plain page, signaling relayed by this process. */
async function scripted(
  lab: NatLab,
  a: Browser,
  b: Browser,
  kind: ScriptedKind,
  script: string,
): Promise<Mark[]> {
  const alice = await newPage(a, { bypassCSP: true });
  const bob = await newPage(b, { bypassCSP: true });
  try {
    for (const [page, other] of [
      [alice, bob],
      [bob, alice],
    ] as const) {
      await page.exposeFunction('benchSignal', (json: string) =>
        other.evaluate(
          (data) => (window as unknown as BenchWindow).benchPeer.signal(JSON.parse(data)),
          json,
        ),
      );
    }
    const iceServers = [{ urls: `stun:${lab.serverIp}:${STUN_PORT}` }];
    // A is there first and answers; B opens its page and makes the offer.
    for (const [page, initiator] of [
      [alice, false],
      [bob, true],
    ] as const) {
      await page.goto(`http://${lab.serverIp}:${APP_PORT}/healthz`);
      await page.addScriptTag({ content: script });
      await page.evaluate(
        ([offer, servers, className]) => {
          const w = window as unknown as BenchWindow;
          w.benchPeer = new w.benchPeerModule[className]!(offer, servers, (data) => {
            void w.benchSignal(JSON.stringify(data));
          });
        },
        [initiator, iceServers, SCRIPTED[kind].className] as const,
      );
    }
    const marks = await withTimeout(
      bob.evaluate(async () => {
        const peer = (window as unknown as BenchWindow).benchPeer;
        await peer.open;
        return [{ label: 'Page opened', atMs: 0 }, ...peer.marks];
      }),
      OPEN_TIMEOUT_MS,
      `${kind} data channel open`,
    );
    return [...marks, ...(await pageLoadMarks(bob))];
  } finally {
    await Promise.all([alice.context().close(), bob.context().close()]);
  }
}

function summarizeRuns(runs: Mark[][], peerCreated: string): SetupSummary {
  const at = (marks: Mark[], label: string): number =>
    marks.find((mark) => mark.label === label)?.atMs ?? NaN;
  const labels = [...new Set(runs.flatMap((marks) => marks.map((mark) => mark.label)))];
  const phases = new Map<string, Summary>();
  for (const label of labels) phases.set(label, summarize(runs.map((marks) => at(marks, label))));
  return {
    totalMs: summarize(runs.map((marks) => at(marks, DATA_CHANNEL_OPEN))),
    webrtcMs: summarize(runs.map((marks) => at(marks, DATA_CHANNEL_OPEN) - at(marks, peerCreated))),
    phases,
  };
}

export async function benchSetup(options: SetupOptions): Promise<SetupResult> {
  const { log } = options;
  const scripts: Record<ScriptedKind, string> = {
    raw: await peerScript(SCRIPTED.raw.entry),
    link: await peerScript(SCRIPTED.link.entry),
  };
  const lab = await buildNatLab({
    natA: 'cone',
    natB: 'cone',
    prefix: process.env.BENCH_NAT_LAB_PREFIX ?? 'bn-',
  });
  const browsers: Browser[] = [];
  const kinds: SetupKind[] = ['ours', 'link', 'raw'];
  const runs: Record<SetupKind, Mark[][]> = { ours: [], link: [], raw: [] };
  const failures: Record<SetupKind, number> = { ours: 0, link: 0, raw: 0 };
  try {
    const server = lab.spawn(
      lab.server.ns,
      [process.execPath, '--import', 'tsx', 'bench/setup/app-server.ts'],
      { cwd: ROOT, env: { STATIC_DIR: options.appDir } },
    );
    try {
      await lab.waitForTcp(lab.hosts.a.ns, lab.serverIp, APP_PORT);
    } catch (error) {
      throw new Error(`app server did not start:\n${lab.output(server)}`, { cause: error });
    }
    for (const host of [lab.hosts.a, lab.hosts.b]) {
      browsers.push(
        await chromium.launch({ executablePath: host.chromiumWrapper, args: CHROMIUM_ARGS }),
      );
    }
    const [a, b] = browsers as [Browser, Browser];
    for (let run = 0; run < options.runs; run++) {
      const order = kinds.map((_, i) => kinds[(i + run) % kinds.length]!);
      for (const kind of order) {
        try {
          const marks =
            kind === 'ours'
              ? await ours(lab, a, b)
              : await scripted(lab, a, b, kind, scripts[kind]);
          runs[kind].push(marks);
          const open = marks.find((mark) => mark.label === DATA_CHANNEL_OPEN)?.atMs ?? NaN;
          log(`setup ${kind} run ${run + 1}: data channel open at ${open.toFixed(0)} ms`);
        } catch (error) {
          failures[kind]++;
          log(`setup ${kind} run ${run + 1} failed: ${(error as Error).message.split('\n')[0]}`);
        }
      }
    }
  } finally {
    await Promise.all(browsers.map((browser) => browser.close()));
    await lab.teardown();
  }
  return {
    summaries: {
      ours: summarizeRuns(runs.ours, PEER_CREATED.ours),
      link: summarizeRuns(runs.link, PEER_CREATED.link),
      raw: summarizeRuns(runs.raw, PEER_CREATED.raw),
    },
    failures,
  };
}
