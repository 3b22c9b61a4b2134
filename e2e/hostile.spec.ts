/**
 * A hostile member of a room (issue #16): its page is the app, instrumented to keep hold of its
 * data channels, and it writes chat frames no honest sender would — 64 streams of 999 frames of
 * 4,000 characters, each stream with a gap at seq 1 so none can ever be shown. Before the bounds,
 * the other page kept every one of them (+251 MB of JS heap). The test measures the victim's
 * heap through the DevTools protocol, after a forced GC, before and after the attack, and checks
 * that the honest members' chat goes on.
 */
import { expect, test, type Browser, type Page } from '@playwright/test';
import { heapUsed } from './support/heap.ts';
import { connectionTo, setName } from './support/people.ts';

/** The victim's JS heap may grow by at most this, bytes, after GC (the bounds hold 1 MiB). */
const HEAP_GROWTH_LIMIT = 16 * 1024 * 1024;

async function person(browser: Browser): Promise<Page> {
  return (await browser.newContext()).newPage();
}

/** Call before `goto`: the page keeps every data channel it creates or is given. */
async function keepDataChannels(page: Page): Promise<void> {
  await page.addInitScript(() => {
    const Original = window.RTCPeerConnection;
    const channels: RTCDataChannel[] = [];
    (window as unknown as { __channels: RTCDataChannel[] }).__channels = channels;
    window.RTCPeerConnection = class extends Original {
      constructor(...args: ConstructorParameters<typeof RTCPeerConnection>) {
        super(...args);
        this.addEventListener('datachannel', (event) => channels.push(event.channel));
      }
      override createDataChannel(label: string, init?: RTCDataChannelInit): RTCDataChannel {
        const channel = super.createDataChannel(label, init);
        channels.push(channel);
        return channel;
      }
    };
  });
}

interface AttackReport {
  channels: number;
  framesWritten: number;
  /** Channels that were closed by the other side before the attack was over. */
  closedByPeer: number;
}

/**
 * In the hostile page: writes the attack on every open data channel, with backpressure (at most
 * 4 MiB buffered), until it is all written or the other side closes the channel.
 */
async function attack(page: Page): Promise<AttackReport> {
  return page.evaluate(async () => {
    const channels = (window as unknown as { __channels: RTCDataChannel[] }).__channels.filter(
      // The chat channels: the `files` channel (issue #11) has its own protocol and bounds.
      (c) => c.readyState === 'open' && c.label !== 'files',
    );
    const hex16 = () =>
      Array.from({ length: 16 }, () => Math.floor(Math.random() * 16).toString(16)).join('');
    const text = 'x'.repeat(4000);
    let framesWritten = 0;
    let closedByPeer = 0;
    const drained = (c: RTCDataChannel) =>
      new Promise<void>((resolve) => {
        c.bufferedAmountLowThreshold = 1024 * 1024;
        const done = () => {
          c.removeEventListener('bufferedamountlow', done);
          c.removeEventListener('close', done);
          resolve();
        };
        c.addEventListener('bufferedamountlow', done);
        c.addEventListener('close', done);
      });
    await Promise.all(
      channels.map(async (channel) => {
        for (let stream = 0; stream < 64; stream += 1) {
          const senderId = hex16();
          // seq 1 never comes: every later one waits for it, forever.
          for (let seq = 2; seq <= 1000; seq += 1) {
            if (channel.readyState !== 'open') {
              closedByPeer += 1;
              return;
            }
            const frame = { type: 'chat', id: hex16(), senderId, seq, ackedUpTo: 0, text };
            channel.send(JSON.stringify({ ...frame, sentAt: Date.now() }));
            framesWritten += 1;
            if (channel.bufferedAmount > 4 * 1024 * 1024) await drained(channel);
          }
        }
      }),
    );
    return { channels: channels.length, framesWritten, closedByPeer };
  });
}

test('a hostile member cannot grow another page’s heap; the honest members chat on', async ({
  browser,
}) => {
  const [alice, carol, mallory] = await Promise.all([
    person(browser),
    person(browser),
    person(browser),
  ]);
  if (!alice || !carol || !mallory) throw new Error('no browser contexts');
  await keepDataChannels(mallory);

  await alice.goto('/');
  await alice.getByRole('button', { name: 'Create room' }).click();
  const link = await alice.getByRole('textbox', { name: 'Room link' }).inputValue();
  await setName(alice, 'Alice');
  await carol.goto(link);
  await setName(carol, 'Carol');
  await mallory.goto(link);
  await setName(mallory, 'Mallory');
  for (const page of [alice, carol, mallory]) {
    await expect(page.getByRole('list', { name: 'People' })).toContainText(
      page === alice ? 'Mallory' : 'Alice',
    );
  }
  // Everyone is connected to everyone before the attack: Mallory's two channels are open.
  await expect(connectionTo(alice, 'Mallory').getByTestId('verdict')).toHaveText('Direct');
  await expect(connectionTo(carol, 'Mallory').getByTestId('verdict')).toHaveText('Direct');
  await expect(connectionTo(alice, 'Carol').getByTestId('verdict')).toHaveText('Direct');

  const before = await heapUsed(alice, true);
  const report = await attack(mallory);
  // The victims stop listening and say so, in Mallory's connection region.
  for (const victim of [alice, carol]) {
    const region = connectionTo(victim, 'Mallory');
    await expect(region.getByRole('alert', { name: 'Disconnected on this side' })).toContainText(
      'stopped listening',
    );
  }
  const after = await heapUsed(alice, true);
  const growth = after - before;
  console.log(
    `hostile member: ${report.framesWritten} frames written on ${report.channels} channels ` +
      `(${report.closedByPeer} closed by the victim); victim heap after GC ` +
      `${(before / 2 ** 20).toFixed(1)} → ${(after / 2 ** 20).toFixed(1)} MiB ` +
      `(${growth >= 0 ? '+' : ''}${(growth / 2 ** 20).toFixed(1)} MiB)`,
  );
  expect(report.channels).toBe(2);
  expect(growth).toBeLessThan(HEAP_GROWTH_LIMIT);

  // Nothing of the attack shows, and Alice and Carol chat on, both ways.
  await expect(alice.getByRole('list', { name: 'Messages' })).not.toContainText('xxxx');
  await carol.getByRole('textbox', { name: 'Message' }).fill('still here, Alice?');
  await carol.getByRole('button', { name: 'Send', exact: true }).click();
  await expect(alice.getByRole('list', { name: 'Messages' })).toContainText('still here, Alice?');
  await alice.getByRole('textbox', { name: 'Message' }).fill('yes, Carol');
  await alice.getByRole('button', { name: 'Send', exact: true }).click();
  await expect(carol.getByRole('list', { name: 'Messages' })).toContainText('yes, Carol');
  await expect(connectionTo(alice, 'Carol').getByTestId('verdict')).toHaveText('Direct');

  for (const page of [alice, carol, mallory]) await page.context().close();
});
