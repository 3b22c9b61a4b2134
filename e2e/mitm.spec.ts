/**
 * The safety code against a lying signaling server (issue #4), on loopback: two people open a room
 * through a relay (e2e/support/mitm-relay.ts) in front of the real server. When the relay swaps
 * the certificate fingerprints in the SDP, the two people read different codes; when it passes
 * everything on untouched, the same one.
 */
import { expect, test, type Browser, type BrowserContext, type Page } from '@playwright/test';
import { startMitmRelay, type MitmRelay } from './support/mitm-relay.ts';

/** Six groups of four Crockford base32 characters (web/src/lib/peer/sas.ts). */
const SAFETY_CODE = /^[0-9A-HJKMNP-TV-Z]{4}( [0-9A-HJKMNP-TV-Z]{4}){5}$/;
/** How many times the two codes are read side by side, and how far apart, ms. */
const READINGS = 5;
const READING_INTERVAL_MS = 300;
/** Bound on taking all {@link READINGS}, ms: codes vanish only while a connection is rebuilt. */
const READINGS_TIMEOUT_MS = 30_000;
/**
 * How long Send must stay disabled with a message typed, ms, checked every
 * {@link NO_CHANNEL_CHECK_INTERVAL_MS}. On loopback ICE and DTLS take well under a second after
 * the SDP is in, so a channel that could open would have by the end.
 */
const NO_CHANNEL_WINDOW_MS = 3_000;
const NO_CHANNEL_CHECK_INTERVAL_MS = 100;

let relay: MitmRelay | null = null;
const contexts: BrowserContext[] = [];
test.afterEach(async () => {
  // Pages first: left open, they would keep rebuilding their connections through later tests.
  for (const context of contexts.splice(0)) await context.close();
  await relay?.close();
  relay = null;
});

/** Two isolated browser contexts are two people on this machine. */
async function person(browser: Browser): Promise<Page> {
  const context = await browser.newContext();
  contexts.push(context);
  return context.newPage();
}

/** Alice creates a room on the relay's origin; Bob opens the link she would send him. */
async function openRoomThrough(
  browser: Browser,
  origin: string,
): Promise<{ alice: Page; bob: Page }> {
  const alice = await person(browser);
  const bob = await person(browser);
  await alice.goto(`${origin}/`);
  await alice.getByRole('button', { name: 'Create room' }).click();
  const linkBox = alice.getByRole('textbox', { name: 'Room link' });
  await expect(linkBox).toHaveValue(/\/r\/./);
  const link = await linkBox.inputValue();
  expect(link.startsWith(`${origin}/r/`)).toBe(true);
  await bob.goto(link);
  return { alice, bob };
}

/**
 * The codes both people read at the same moment, `READINGS` times: what two people comparing
 * them over the phone would see. A reading is taken only while both pages show a code (with a
 * broken connection the app rebuilds it, and a new connection has a new code).
 */
async function readCodesSideBySide(alice: Page, bob: Page): Promise<[string, string][]> {
  const readings: [string, string][] = [];
  for (const page of [alice, bob]) await expect(page.getByTestId('sas')).toHaveText(SAFETY_CODE);
  const deadline = Date.now() + READINGS_TIMEOUT_MS;
  while (readings.length < READINGS) {
    expect(Date.now(), `only ${readings.length} readings`).toBeLessThan(deadline);
    // What is on screen now, without waiting: a code can vanish between two calls (a rebuild),
    // and count() then textContent() would wait for, and time out on, one that is gone.
    const codes = await Promise.all(
      [alice, bob].map(async (page) => (await page.getByTestId('sas').allTextContents())[0]),
    );
    if (codes.every((code) => code !== undefined && SAFETY_CODE.test(code))) {
      readings.push(codes as [string, string]);
    }
    await new Promise((resolve) => setTimeout(resolve, READING_INTERVAL_MS));
  }
  return readings;
}

test('a signaling server that swaps the fingerprints shows the two people different safety codes', async ({
  browser,
  baseURL,
}) => {
  relay = await startMitmRelay({ target: baseURL!, rewriteFingerprints: true });
  const { alice, bob } = await openRoomThrough(browser, relay.origin);

  const readings = await readCodesSideBySide(alice, bob);

  for (const [aliceCode, bobCode] of readings) expect(aliceCode).not.toBe(bobCode);
  expect(relay.forgedSdps).toBeGreaterThanOrEqual(2); // at least one offer and its answer
  // The forged fingerprints match no certificate, so the handshakes fail: nobody can chat. With a
  // message typed, Send is enabled exactly when a data channel is (or was) open (Chat.svelte,
  // session `canSend`), so Send staying disabled says no channel opened; the next test shows the
  // same steps enabling it. Enter does not send the draft either, and nothing arrives.
  const text = 'can you read this?';
  for (const page of [alice, bob]) await page.getByRole('textbox', { name: 'Message' }).fill(text);
  for (const deadline = Date.now() + NO_CHANNEL_WINDOW_MS; Date.now() < deadline;) {
    // Snapshots, not expect(...).toBeDisabled(), which waits until it holds.
    for (const page of [alice, bob]) {
      expect(await page.getByRole('status').textContent()).not.toMatch(/^Connected/);
      expect(await page.getByRole('button', { name: 'Send', exact: true }).isDisabled()).toBe(true);
    }
    await new Promise((resolve) => setTimeout(resolve, NO_CHANNEL_CHECK_INTERVAL_MS));
  }
  for (const [page, other] of [
    [alice, bob],
    [bob, alice],
  ] as const) {
    const draft = page.getByRole('textbox', { name: 'Message' });
    await draft.press('Enter');
    await expect(draft).toHaveValue(text); // kept, not sent
    await expect(page.getByRole('list', { name: 'Messages' })).not.toContainText(text);
    await expect(other.getByRole('list', { name: 'Messages' })).not.toContainText(text);
  }
  console.log(
    `mitm: forged ${relay.forgedSdps} SDPs; Alice read ${readings[0]![0]}, Bob read ${readings[0]![1]}`,
  );
});

test('the same server passing everything on untouched shows both people the same code', async ({
  browser,
  baseURL,
}) => {
  relay = await startMitmRelay({ target: baseURL!, rewriteFingerprints: false });
  const { alice, bob } = await openRoomThrough(browser, relay.origin);
  for (const page of [alice, bob]) await expect(page.getByRole('status')).toHaveText(/^Connected/);

  const readings = await readCodesSideBySide(alice, bob);

  for (const [aliceCode, bobCode] of readings) expect(aliceCode).toBe(bobCode);
  expect(relay.relayedSdps).toBeGreaterThanOrEqual(2);
  expect(relay.forgedSdps).toBe(0);
  await alice.getByRole('textbox', { name: 'Message' }).fill('our codes match');
  await alice.getByRole('button', { name: 'Send', exact: true }).click();
  await expect(bob.getByRole('list', { name: 'Messages' })).toContainText('our codes match');
});
