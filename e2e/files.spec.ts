/**
 * Files (issue #11), as people send them on one machine (loopback): the offer line, Accept and
 * Decline, the progress bar, Cancel on either side, the SHA-256 check, Save, and a corrupted
 * chunk that must not be saveable. Real Chromium, real data channels.
 */
import { expect, test, type Browser, type Page } from '@playwright/test';
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { heapUsed } from './support/heap.ts';
import { startLoopbackApp } from './support/loopback-app.ts';
import { setName } from './support/people.ts';

const MB = 1_000_000;

async function person(browser: Browser): Promise<Page> {
  return (await browser.newContext({ acceptDownloads: true })).newPage();
}

/** Alice makes a room, each of `others` joins it; everyone is connected to everyone. */
async function room(alice: Page, others: Page[], base = ''): Promise<void> {
  await alice.goto(`${base}/`);
  await alice.getByRole('button', { name: 'Create room' }).click();
  const link = await alice.getByRole('textbox', { name: 'Room link' }).inputValue();
  await setName(alice, 'Alice');
  const names = ['Bob', 'Carol'];
  for (const [i, page] of others.entries()) {
    await page.goto(link);
    await setName(page, names[i] ?? `P${i}`);
  }
  for (const page of [alice, ...others]) {
    await expect(page.getByRole('status')).toHaveText(/Connected/, { timeout: 20_000 });
  }
}

/** Picks `file` in the "Send file" chooser, as a person would. */
async function sendFile(page: Page, file: { name: string; mimeType: string; buffer: Buffer }) {
  const chooser = page.waitForEvent('filechooser');
  await page.getByRole('button', { name: 'Send file' }).click();
  await (await chooser).setFiles(file);
}

const fileLine = (page: Page, name: string) =>
  page.getByRole('list', { name: 'Messages' }).getByRole('listitem', { name: `File ${name}` });

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

test('a 20 MB file goes from Alice to Bob, who accepts, and saves a copy with the same SHA-256', async ({
  browser,
}) => {
  const [alice, bob] = await Promise.all([person(browser), person(browser)]);
  await room(alice, [bob]);
  const original = randomBytes(20 * MB);
  await sendFile(alice, { name: 'holiday.bin', mimeType: 'application/x-test', buffer: original });

  const offer = fileLine(bob, 'holiday.bin');
  await expect(offer).toContainText('Alice');
  await expect(offer).toContainText('20.0 MB');
  await expect(offer).toContainText('application/x-test');
  await expect(fileLine(alice, 'holiday.bin')).toContainText('Waiting for Bob to accept');
  // Nothing moves unasked.
  await expect(offer.getByRole('progressbar')).toHaveCount(0);

  const heapBefore = await heapUsed(bob, true);
  let heapPeak = heapBefore;
  const started = Date.now();
  await offer.getByRole('button', { name: 'Accept' }).click();
  const save = offer.getByRole('link', { name: 'Save' });
  while (!(await save.isVisible())) {
    heapPeak = Math.max(heapPeak, await heapUsed(bob));
    await bob.waitForTimeout(100);
    expect(Date.now() - started, 'the file arrives within 60 s').toBeLessThan(60_000);
  }
  const seconds = (Date.now() - started) / 1000;
  await expect(offer).toContainText('Arrived intact');
  await expect(fileLine(alice, 'holiday.bin')).toContainText('Delivered to Bob');

  const download = bob.waitForEvent('download');
  await save.click();
  const saved = await download;
  expect(saved.suggestedFilename()).toBe('holiday.bin');
  const copy = await readFile(await saved.path());
  expect(copy.length).toBe(original.length);
  expect(sha256(copy)).toBe(sha256(original));
  console.log(
    `files, loopback: 20 MB in ${seconds.toFixed(1)} s (${(20 / seconds).toFixed(1)} MB/s, ` +
      `accept → Save shown); receiver JS heap ${(heapBefore / MB).toFixed(1)} MB before, ` +
      `peak ${(heapPeak / MB).toFixed(1)} MB during (+${((heapPeak - heapBefore) / MB).toFixed(1)} MB)`,
  );
  // The receiver keeps the file in a Blob, not in the JS heap as one buffer.
  expect(heapPeak - heapBefore).toBeLessThan(original.length / 2);
});

test('Bob declines one file; each side cancels another while it moves', async ({ browser }) => {
  const [alice, bob] = await Promise.all([person(browser), person(browser)]);
  await room(alice, [bob]);

  await sendFile(alice, {
    name: 'unwanted.txt',
    mimeType: 'text/plain',
    buffer: randomBytes(1000),
  });
  await fileLine(bob, 'unwanted.txt').getByRole('button', { name: 'Decline' }).click();
  await expect(fileLine(alice, 'unwanted.txt')).toContainText('Bob declined');
  await expect(fileLine(bob, 'unwanted.txt')).toContainText('Declined');
  await expect(fileLine(bob, 'unwanted.txt').getByRole('link', { name: 'Save' })).toHaveCount(0);

  // The sender cancels: 40 MB takes long enough on loopback to catch it moving.
  await sendFile(alice, { name: 'big-a.bin', mimeType: '', buffer: randomBytes(40 * MB) });
  await fileLine(bob, 'big-a.bin').getByRole('button', { name: 'Accept' }).click();
  await expect(fileLine(alice, 'big-a.bin').getByRole('progressbar')).toBeVisible();
  await fileLine(alice, 'big-a.bin').getByRole('button', { name: 'Cancel' }).click();
  await expect(fileLine(alice, 'big-a.bin')).toContainText('Cancelled: You cancelled.');
  await expect(fileLine(bob, 'big-a.bin')).toContainText('Cancelled: The sender cancelled.');
  await expect(fileLine(bob, 'big-a.bin').getByRole('link', { name: 'Save' })).toHaveCount(0);

  // The recipient cancels.
  await sendFile(alice, { name: 'big-b.bin', mimeType: '', buffer: randomBytes(40 * MB) });
  await fileLine(bob, 'big-b.bin').getByRole('button', { name: 'Accept' }).click();
  await expect(fileLine(bob, 'big-b.bin').getByRole('progressbar')).toBeVisible();
  await fileLine(bob, 'big-b.bin').getByRole('button', { name: 'Cancel' }).click();
  await expect(fileLine(bob, 'big-b.bin')).toContainText('Cancelled: The recipient cancelled.');
  await expect(fileLine(alice, 'big-b.bin')).toContainText('Cancelled: The recipient cancelled.');

  // Chat is unaffected.
  await bob.getByRole('textbox', { name: 'Message' }).fill('no thanks');
  await bob.getByRole('textbox', { name: 'Message' }).press('Enter');
  await expect(alice.getByRole('list', { name: 'Messages' })).toContainText('no thanks');
});

test('files dropped onto the chat are offered like picked ones', async ({ browser }) => {
  const [alice, bob] = await Promise.all([person(browser), person(browser)]);
  await room(alice, [bob]);
  const dataTransfer = await alice.evaluateHandle(() => {
    const transfer = new DataTransfer();
    transfer.items.add(new File(['first dropped'], 'one.txt', { type: 'text/plain' }));
    transfer.items.add(new File(['second dropped'], 'two.txt', { type: 'text/plain' }));
    return transfer;
  });
  const chat = alice.getByRole('group', { name: 'Chat' });
  await chat.dispatchEvent('dragover', { dataTransfer });
  await chat.dispatchEvent('drop', { dataTransfer });
  for (const [name, text] of [
    ['one.txt', 'first dropped'],
    ['two.txt', 'second dropped'],
  ] as const) {
    const line = fileLine(bob, name);
    await expect(line).toContainText('text/plain');
    await line.getByRole('button', { name: 'Accept' }).click();
    const download = bob.waitForEvent('download');
    await line.getByRole('link', { name: 'Save' }).click();
    expect((await readFile(await (await download).path())).toString()).toBe(text);
  }
});

test('a byte flipped on the receive path shows the SHA-256 mismatch and offers no save', async ({
  browser,
}) => {
  const [alice, bob] = await Promise.all([person(browser), person(browser)]);
  await room(alice, [bob]);
  // The test-only hook of file-transfers.svelte.ts: the next chunk Bob receives is corrupted.
  await bob.evaluate(() => {
    (globalThis as { __holepunchFlipNextChunk?: boolean }).__holepunchFlipNextChunk = true;
  });
  await sendFile(alice, {
    name: 'report.pdf',
    mimeType: 'application/pdf',
    buffer: randomBytes(3 * MB),
  });
  await fileLine(bob, 'report.pdf').getByRole('button', { name: 'Accept' }).click();
  await expect(fileLine(bob, 'report.pdf')).toContainText('corrupted on the way');
  await expect(fileLine(bob, 'report.pdf').getByRole('link', { name: 'Save' })).toHaveCount(0);
  await expect(fileLine(alice, 'report.pdf')).toContainText('Arrived corrupted at Bob');
});

test('in a room of three, one file reaches both others, each over their own channel', async ({
  browser,
}) => {
  const app = await startLoopbackApp(18082, 13482, {});
  try {
    const [alice, bob, carol] = await Promise.all([
      person(browser),
      person(browser),
      person(browser),
    ]);
    await room(alice, [bob, carol], app.url);
    const original = randomBytes(5 * MB);
    await sendFile(alice, { name: 'group.bin', mimeType: '', buffer: original });
    for (const page of [bob, carol]) {
      await fileLine(page, 'group.bin').getByRole('button', { name: 'Accept' }).click();
    }
    for (const [page, name] of [
      [bob, 'Bob'],
      [carol, 'Carol'],
    ] as const) {
      const save = fileLine(page, 'group.bin').getByRole('link', { name: 'Save' });
      await expect(save).toBeVisible({ timeout: 30_000 });
      const download = page.waitForEvent('download');
      await save.click();
      expect(sha256(await readFile(await (await download).path()))).toBe(sha256(original));
      await expect(fileLine(alice, 'group.bin')).toContainText(`Delivered to ${name}`);
    }
  } finally {
    await app.stop();
  }
});
