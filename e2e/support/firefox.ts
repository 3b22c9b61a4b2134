/**
 * A person in Firefox: Debian's firefox-esr, headless, driven over WebDriver BiDi by
 * puppeteer-core (Playwright's own Firefox build cannot be installed here). Real Firefox, real
 * WebRTC; the helpers below read the page the way a person does (accessible names, visible text)
 * and Firefox's own `getStats()`.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { peerConnectionRecorder } from './webrtc-probe.ts';

export const FIREFOX_PATH = process.env.FIREFOX_PATH ?? '/usr/bin/firefox-esr';

/** Longest any helper waits, ms, unless told otherwise. */
const WAIT_MS = 20_000;
/** How often `save` looks at the download folder, ms. */
const DOWNLOAD_POLL_MS = 50;

/** Whether firefox-esr is installed (`.ci/run` installs it). */
export function firefoxAvailable(): boolean {
  return existsSync(FIREFOX_PATH);
}

/** A puppeteer selector for the element with ARIA `role` and accessible name `name`. */
export function aria(role: string, name: string): string {
  return `::-p-aria([name="${name}"][role="${role}"])`;
}

/** One Firefox with one page, and what the tests ask of it. */
export interface FirefoxPerson {
  page: Page;
  /** Waits until some element matching the CSS `selector` has text matching `text`. */
  waitForText(selector: string, text: RegExp, timeoutMs?: number): Promise<void>;
  /**
   * The state of the selected candidate pair (Firefox marks it `selected: true` in `getStats()`)
   * of the newest live peer connection, or `null` when none has one.
   */
  selectedPairState(): Promise<string | null>;
  /**
   * Clicks the "Save" link inside the element matching the CSS `selector`, as a person does, and
   * waits until Firefox has saved the file in this browser's own download folder.
   * @returns the saved copy's absolute path.
   * @throws Error when there is no such link, or no complete file within `timeoutMs`.
   */
  save(selector: string, timeoutMs?: number): Promise<string>;
  /** Picks the file at `path` in the page's file input, as "Send file" would. */
  pickFile(path: string): Promise<void>;
  /** e.g. "firefox/153.8.0". */
  version(): Promise<string>;
  /** Closes Firefox and removes its download folder. */
  close(): Promise<void>;
}

/**
 * A complete file Firefox has saved in `dir` that is not in `before`, or `null` while there
 * is none. Firefox first writes an empty placeholder under the final name, streams into a
 * `<name>.<random>.<ext>.part` file next to it, then moves that over the placeholder; so a file
 * counts once it is not empty and no `.part` is left (an empty file never counts as saved).
 */
async function savedFile(dir: string, before: ReadonlySet<string>): Promise<string | null> {
  const names = await readdir(dir);
  if (names.some((name) => name.endsWith('.part'))) return null;
  for (const name of names) {
    if (before.has(name)) continue;
    const path = join(dir, name);
    if ((await stat(path)).size > 0) return path;
  }
  return null;
}

/**
 * Launches Firefox headless with a blank page that records every RTCPeerConnection it creates and
 * saves downloads, without asking, into a fresh temporary folder (removed by `close`).
 * @throws Error from puppeteer when Firefox cannot start.
 */
export async function launchFirefox(): Promise<FirefoxPerson> {
  const downloads = await mkdtemp(join(tmpdir(), 'firefox-downloads-'));
  let browser: Browser;
  try {
    browser = await puppeteer.launch({
      browser: 'firefox',
      executablePath: FIREFOX_PATH,
      headless: true,
      protocol: 'webDriverBiDi',
    });
  } catch (error) {
    await rm(downloads, { recursive: true, force: true });
    throw error;
  }
  const close = async () => {
    await browser.close();
    await rm(downloads, { recursive: true, force: true });
  };
  try {
    // WebDriver BiDi's browser.setDownloadBehavior: downloads go straight to `downloads`.
    const context = await browser.createBrowserContext({
      downloadBehavior: { policy: 'allow', downloadPath: downloads },
    });
    const page = await context.newPage();
    await page.evaluateOnNewDocument(peerConnectionRecorder);
    return {
      page,
      async waitForText(selector, text, timeoutMs = WAIT_MS) {
        await page.waitForFunction(
          (sel: string, source: string, flags: string) =>
            [...document.querySelectorAll(sel)].some((el) =>
              new RegExp(source, flags).test(el.textContent ?? ''),
            ),
          { timeout: timeoutMs, polling: 100 },
          selector,
          text.source,
          text.flags,
        );
      },
      selectedPairState: () =>
        page.evaluate(async () => {
          const pcs =
            (window as unknown as { __peerConnections?: RTCPeerConnection[] }).__peerConnections ??
            [];
          for (const pc of [...pcs].reverse()) {
            if (pc.connectionState === 'closed') continue;
            for (const stat of (await pc.getStats()).values()) {
              const s = stat as { type: string; selected?: boolean; state?: string };
              if (s.type === 'candidate-pair' && s.selected) return s.state ?? null;
            }
          }
          return null;
        }),
      // Not fetch(blob:) in the page: the app's CSP (connect-src 'self') rightly refuses it.
      async save(selector, timeoutMs = WAIT_MS) {
        const link = await page.$(`${selector} ${aria('link', 'Save')}`);
        if (!link) throw new Error(`no Save link in ${selector}`);
        const before = new Set(await readdir(downloads));
        await link.click();
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const path = await savedFile(downloads, before);
          if (path) return path;
          if (Date.now() > deadline) {
            const seen = (await readdir(downloads)).join(', ') || 'nothing';
            throw new Error(`Firefox saved no file from ${selector} in ${timeoutMs} ms (${seen})`);
          }
          await new Promise((resolve) => setTimeout(resolve, DOWNLOAD_POLL_MS));
        }
      },
      async pickFile(path) {
        const input = await page.$('input[type="file"]');
        if (!input) throw new Error('the page has no file input');
        await input.uploadFile(path);
      },
      version: () => browser.version(),
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
