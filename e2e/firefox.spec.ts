/**
 * Chromium ↔ Firefox: people use both, so the two must talk. Alice is in Chromium (Playwright),
 * Bob in Debian's firefox-esr, driven over WebDriver BiDi by puppeteer-core (Playwright's own
 * Firefox cannot be installed here; see e2e/support/firefox.ts). On one machine, loopback server:
 * Bob opens Alice's link, they chat both ways, each panel says "Direct" as its own browser's
 * `getStats()` does, and a file goes each way with the SHA-256 check, so the file protocol's chunk
 * size and backpressure hold against Firefox's SCTP (Firefox offers a far larger
 * `maxMessageSize` than Chromium).
 */
import { expect, test, type Page } from '@playwright/test';
import { createHash, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { aria, firefoxAvailable, launchFirefox, type FirefoxPerson } from './support/firefox.ts';
import { setName } from './support/people.ts';
import { browserSelectedPair, recordPeerConnections } from './support/webrtc-probe.ts';

const MB = 1_000_000;
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/**
 * In the page: `RTCSctpTransport.maxMessageSize` of its newest live connection with a data channel
 * (the largest message this side may send, bytes: the smaller of both ends' limits, RFC 8841 §6),
 * or `null` when there is none. Both browsers' init scripts keep the connections in
 * `__peerConnections`.
 */
const sctpMaxMessageSize = () => {
  const pcs = (window as unknown as { __peerConnections?: RTCPeerConnection[] }).__peerConnections;
  const live = [...(pcs ?? [])].reverse().find((pc) => pc.connectionState !== 'closed' && pc.sctp);
  return live?.sctp?.maxMessageSize ?? null;
};
const rate = (bytes: number, ms: number) =>
  `${(ms / 1000).toFixed(1)} s (${(bytes / MB / (ms / 1000)).toFixed(1)} MB/s)`;

const panel = (page: Page) => page.getByRole('region', { name: 'NAT traversal diagnostics' });
const fileLine = (page: Page, name: string) =>
  page.getByRole('list', { name: 'Messages' }).getByRole('listitem', { name: `File ${name}` });

let bob: FirefoxPerson | null = null;
test.afterEach(async () => {
  await bob?.close();
  bob = null;
});

test('Alice in Chromium and Bob in Firefox chat directly and send each other a file intact', async ({
  browser,
}, testInfo) => {
  // Not a skip in CI: .ci/run installs firefox-esr, and a missing browser must fail there.
  test.skip(!process.env.CI && !firefoxAvailable(), 'firefox-esr is not installed');
  const alice = await (await browser.newContext({ acceptDownloads: true })).newPage();
  await recordPeerConnections(alice);
  await alice.goto('/');
  await alice.getByRole('button', { name: 'Create room' }).click();
  const link = await alice.getByRole('textbox', { name: 'Room link' }).inputValue();
  await setName(alice, 'Alice');

  bob = await launchFirefox();
  const page = bob.page;
  await page.goto(link);
  await page.locator(aria('textbox', 'Your name')).fill('Bob');
  await page.keyboard.press('Enter');

  await expect(alice.getByRole('status')).toHaveText(/Connected directly/, { timeout: 30_000 });
  await bob.waitForText('[role="status"]', /Connected directly/);

  // Chat, both ways.
  await alice.getByRole('textbox', { name: 'Message' }).fill('hello from Chromium');
  await alice.getByRole('button', { name: 'Send', exact: true }).click();
  await bob.waitForText('[aria-label="Messages"]', /hello from Chromium/);
  await page.locator(aria('textbox', 'Message')).fill('hello from Firefox');
  await page.locator(aria('button', 'Send')).click();
  await expect(alice.getByRole('list', { name: 'Messages' })).toContainText('hello from Firefox');
  await expect(alice.getByRole('list', { name: 'Messages' })).toContainText('delivered');

  // Each panel tells the truth about its own side: Chromium's from its getStats(), Firefox's
  // verdict from Firefox's own (the page reads the same API in both).
  expect(await browserSelectedPair(alice)).not.toBeNull();
  await expect(panel(alice).getByTestId('verdict')).toHaveText('Direct');
  await bob.waitForText('[data-testid="verdict"]', /^Direct$/);
  expect(await bob.selectedPairState()).toBe('succeeded');

  // A file Chromium → Firefox: Bob accepts and clicks Save; the copy Firefox writes to disk has
  // the original's SHA-256.
  const toBob = randomBytes(8 * MB);
  const chooser = alice.waitForEvent('filechooser');
  await alice.getByRole('button', { name: 'Send file' }).click();
  await (await chooser).setFiles({ name: 'to-firefox.bin', mimeType: '', buffer: toBob });
  const bobsLine = '[aria-label="File to-firefox.bin"]';
  await bob.waitForText(bobsLine, /Alice/);
  let started = Date.now();
  await page.locator(`${bobsLine} ${aria('button', 'Accept')}`).click();
  await bob.waitForText(bobsLine, /Arrived intact/, 60_000);
  const toBobMs = Date.now() - started;
  expect(sha256(await readFile(await bob.save(bobsLine)))).toBe(sha256(toBob));
  await expect(fileLine(alice, 'to-firefox.bin')).toContainText('Delivered to Bob');

  // A file Firefox → Chromium, picked in Firefox's file input.
  const toAlice = randomBytes(8 * MB);
  const path = testInfo.outputPath('to-chromium.bin');
  await writeFile(path, toAlice);
  await bob.pickFile(path);
  const alicesLine = fileLine(alice, 'to-chromium.bin');
  started = Date.now();
  await alicesLine.getByRole('button', { name: 'Accept' }).click();
  await expect(alicesLine).toContainText('Arrived intact', { timeout: 60_000 });
  const toAliceMs = Date.now() - started;
  const download = alice.waitForEvent('download');
  await alicesLine.getByRole('link', { name: 'Save' }).click();
  const copy = await readFile(await (await download).path());
  expect(sha256(copy)).toBe(sha256(toAlice));
  await bob.waitForText('[aria-label="File to-chromium.bin"]', /Delivered to Alice/);
  console.log(
    `firefox: ${await bob.version()} ↔ Chromium, loopback: chat both ways; 8 MB to Firefox in ` +
      `${rate(toBob.length, toBobMs)}, to Chromium in ${rate(toAlice.length, toAliceMs)} ` +
      `(accept → "Arrived intact"); maxMessageSize in Chromium ` +
      `${await alice.evaluate(sctpMaxMessageSize)} B, in Firefox ` +
      `${await page.evaluate(sctpMaxMessageSize)} B`,
  );
});
