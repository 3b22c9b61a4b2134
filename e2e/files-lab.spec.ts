/**
 * Files through two NATs (issue #11), in the NAT lab: a 50 MB file crosses a hole-punched path
 * while A's home network drops for 8 s and comes back with a new public address; the transfer
 * goes on from the last byte Bob stored once the peer connection is rebuilt, not from zero, and
 * the saved copy has the sender's SHA-256. Prints the figures the issue asks for.
 */
import type { Page } from '@playwright/test';
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { expect, test } from './lab/fixture.ts';
import { closePeople, meet, personOn, setName, startApp } from './support/people.ts';

test.afterEach(closePeople);

/** Router A's public address after its uplink comes back (it was 203.0.113.2). */
const NEW_WAN_IP = '203.0.113.4';
const MB = 1_000_000;

const fileLine = (page: Page, name: string) =>
  page.getByRole('list', { name: 'Messages' }).getByRole('listitem', { name: `File ${name}` });

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** Bytes Bob's progress bar says he holds; 0 when no bar is shown. */
async function bytesHeld(page: Page, name: string): Promise<number> {
  const bar = fileLine(page, name).getByRole('progressbar');
  if ((await bar.count()) === 0) return 0;
  return Number(await bar.getAttribute('aria-valuenow'));
}

test('a 50 MB file crosses two NATs, survives an 8 s outage and a new public address, and arrives intact', async ({
  buildLab,
}) => {
  test.setTimeout(240_000);
  const lab = await buildLab({ natA: 'cone', natB: 'cone' });
  await startApp(lab);
  const alice = await personOn(lab.hosts.a);
  const bob = await personOn(lab.hosts.b);
  await meet(lab, alice, bob);
  await setName(alice, 'Alice');
  await setName(bob, 'Bob');
  for (const page of [alice, bob]) {
    await expect(page.getByRole('status')).toHaveText('Connected directly, peer to peer.');
  }

  const original = randomBytes(50 * MB);
  const chooser = alice.waitForEvent('filechooser');
  await alice.getByRole('button', { name: 'Send file' }).click();
  await (await chooser).setFiles({ name: 'big.bin', mimeType: '', buffer: original });
  await fileLine(bob, 'big.bin').getByRole('button', { name: 'Accept' }).click();
  const acceptedAt = Date.now();

  // A fifth of the way, A's line drops.
  await expect.poll(() => bytesHeld(bob, 'big.bin'), { timeout: 60_000 }).toBeGreaterThan(10 * MB);
  await lab.setUplink('a', false);
  const downAt = Date.now();
  const heldAtDrop = await bytesHeld(bob, 'big.bin');
  await expect(fileLine(bob, 'big.bin')).toContainText('Waiting for the connection to come back', {
    timeout: 20_000,
  });
  await new Promise((resolve) => setTimeout(resolve, 8_000 - (Date.now() - downAt)));
  const heldBeforeUp = await bytesHeld(bob, 'big.bin');
  await lab.changeWanIp('a', NEW_WAN_IP);
  await lab.setUplink('a', true);
  const upAt = Date.now();

  // It goes on from what Bob held, not from zero.
  await expect
    .poll(() => bytesHeld(bob, 'big.bin'), { timeout: 60_000, intervals: [100] })
    .toBeGreaterThan(heldBeforeUp);
  const movingAgainAt = Date.now();
  const save = fileLine(bob, 'big.bin').getByRole('link', { name: 'Save' });
  await expect(save).toBeVisible({ timeout: 120_000 });
  const doneAt = Date.now();
  await expect(fileLine(bob, 'big.bin')).toContainText('Arrived intact');
  const download = bob.waitForEvent('download');
  await save.click();
  const copy = await readFile(await (await download).path());
  expect(copy.length).toBe(original.length);
  expect(sha256(copy)).toBe(sha256(original));

  // Alice's line says it arrived, and how much went twice.
  const sent = fileLine(alice, 'big.bin');
  await expect(sent).toContainText('Delivered to Bob: their copy matches (SHA-256).');
  const twice = /(\d+(?:\.\d)? [kMG]?B) went twice/.exec((await sent.textContent()) ?? '')?.[1];
  const movingMs = doneAt - acceptedAt - (upAt - downAt) - (movingAgainAt - upAt);
  console.log(
    `files, NAT lab cone↔cone: 50 MB with an 8 s outage and a new WAN IP: held at the drop ` +
      `${(heldAtDrop / MB).toFixed(1)} MB, when the line came back ${(heldBeforeUp / MB).toFixed(1)} MB; link up → bytes moving again ${movingAgainAt - upAt} ms; ` +
      `sent twice: ${twice ?? '0 B'}; accept → Save ${((doneAt - acceptedAt) / 1000).toFixed(1)} s, ` +
      `of which moving ${(movingMs / 1000).toFixed(1)} s (${((50 * MB) / MB / (movingMs / 1000)).toFixed(1)} MB/s)`,
  );
});
