/**
 * What the lab specs share: the app server on the lab's public segment, and people — each a
 * Chromium of its own inside one of the lab's hosts, driven through the page only.
 */
import { chromium, expect, type Browser, type Page } from '@playwright/test';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CHROMIUM_ARGS } from '../chromium.ts';
import type { LabHost, NatLab } from '../lab/nat-lab.ts';
import { recordPeerConnections } from './webrtc-probe.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

/** The app's HTTP port on the lab server. */
export const APP_PORT = 8080;
/** The app's first STUN port on the lab server (it answers on the next one too). */
export const APP_STUN_PORT = 3478;

/**
 * Starts the app server in the lab's server namespace, as `npm start` runs it (page prebuilt by
 * `npm test`), and waits until host A can reach it. `env` adds to HOST/PORT/STUN_PORT.
 * @throws Error with the server's output if it does not come up.
 */
export async function startApp(
  lab: NatLab,
  env: Record<string, string> = {},
): Promise<ChildProcess> {
  const server = lab.spawn(lab.server.ns, ['node_modules/.bin/tsx', 'signaling/main.ts'], {
    cwd: REPO,
    env: { HOST: '0.0.0.0', PORT: String(APP_PORT), STUN_PORT: String(APP_STUN_PORT), ...env },
  });
  try {
    await lab.waitForTcp(lab.hosts.a.ns, lab.serverIp, APP_PORT);
  } catch (error) {
    throw new Error(`app server did not start:\n${lab.output(server)}`, { cause: error });
  }
  return server;
}

/** The app's page on the lab server. */
export function appUrl(lab: NatLab): string {
  return `http://${lab.serverIp}:${APP_PORT}/`;
}

/** Browsers opened by {@link personOn}; close them with {@link closePeople} after each test. */
const browsers: Browser[] = [];

/** A person on `host`: their own Chromium inside the host's namespace, with a fresh profile. */
export async function personOn(host: LabHost): Promise<Page> {
  const browser = await chromium.launch({
    executablePath: host.chromiumWrapper,
    args: CHROMIUM_ARGS,
  });
  browsers.push(browser);
  const page = await (await browser.newContext()).newPage();
  await recordPeerConnections(page);
  return page;
}

/** Closes every browser {@link personOn} opened. */
export async function closePeople(): Promise<void> {
  for (const browser of browsers.splice(0)) await browser.close();
}

/** A creates a room on the lab server; B opens the link. Returns the link. */
export async function meet(lab: NatLab, alice: Page, bob: Page): Promise<string> {
  await alice.goto(appUrl(lab));
  await alice.getByRole('button', { name: 'Create room' }).click();
  const link = await alice.getByRole('textbox', { name: 'Room link' }).inputValue();
  await bob.goto(link);
  return link;
}

/** Sends `text` from one person and waits until the other sees it. */
export async function say(from: Page, to: Page, text: string): Promise<void> {
  await from.getByRole('textbox', { name: 'Message' }).fill(text);
  await from.getByRole('button', { name: 'Send', exact: true }).click();
  await expect(to.getByRole('list', { name: 'Messages' })).toContainText(text);
}

/** The diagnostics panel of a page. */
export function panel(page: Page) {
  return page.getByRole('region', { name: 'NAT traversal diagnostics' });
}

/** The path diagram's picture, whose accessible name is its one-sentence text alternative. */
export function pathDiagram(page: Page) {
  return panel(page).getByRole('figure', { name: 'Path diagram' }).getByRole('img');
}

/** ms from page open to `label` (default "Data channel open"), read off the panel's timeline. */
export async function timelineMs(page: Page, label = 'Data channel open'): Promise<number> {
  const step = page
    .getByRole('list', { name: 'Connection timeline' })
    .getByRole('listitem')
    .filter({ hasText: label })
    .first();
  const text = (await step.textContent()) ?? '';
  return Number(/(\d+) ms/.exec(text)?.[1]);
}

/** Sets `name` in the textbox "Your name" and applies it (Enter), as a person would. */
export async function setName(page: Page, name: string): Promise<void> {
  await page.getByRole('textbox', { name: 'Your name' }).fill(name);
  await page.getByRole('textbox', { name: 'Your name' }).press('Enter');
}

/**
 * `page` opens the app on the lab server and creates a room; returns the room link, for others to
 * open with `page.goto(link)`. The first half of {@link meet}, for rooms of more than two.
 */
export async function createRoom(lab: NatLab, page: Page): Promise<string> {
  await page.goto(appUrl(lab));
  await page.getByRole('button', { name: 'Create room' }).click();
  return page.getByRole('textbox', { name: 'Room link' }).inputValue();
}

/** The region "Connection to <name>" of a page's diagnostics: its connection to one person. */
export function connectionTo(page: Page, name: string) {
  return panel(page).getByRole('region', { name: `Connection to ${name}`, exact: true });
}
