import { expect, test, type Browser, type Page } from '@playwright/test';
import { startLoopbackApp } from './support/loopback-app.ts';
import { setName } from './support/people.ts';

/** A phone's screen, CSS pixels (an iPhone 12–15). */
const PHONE = { width: 390, height: 844 };

/** Two isolated browser contexts are two people on this machine (loopback). */
async function person(browser: Browser, viewport?: typeof PHONE): Promise<Page> {
  const context = await browser.newContext(viewport ? { viewport, isMobile: true } : {});
  return context.newPage();
}

test('two people create a room, join by link and chat both ways', async ({ browser }) => {
  const alice = await person(browser);
  const bob = await person(browser, PHONE); // Bob is on his phone

  await alice.goto('/');
  await alice.getByRole('button', { name: 'Create room' }).click();
  const link = await alice.getByRole('textbox', { name: 'Room link' }).inputValue();
  expect(link).toMatch(/\/r\/[A-Za-z0-9_-]{22}$/);
  await expect(alice.getByRole('status')).toHaveText(/Waiting for others/);

  // Alice types before Bob is there: the draft waits, it is not lost.
  await alice.getByRole('textbox', { name: 'Message' }).fill('hi bob');
  await expect(alice.getByRole('button', { name: 'Send', exact: true })).toBeDisabled();

  await bob.goto(link);
  await expect(alice.getByRole('status')).toHaveText(/Connected/);
  await expect(bob.getByRole('status')).toHaveText(/Connected/);

  await alice.getByRole('button', { name: 'Send', exact: true }).click();
  await expect(bob.getByRole('list', { name: 'Messages' })).toContainText('hi bob');
  await expect(alice.getByRole('textbox', { name: 'Message' })).toHaveValue('');

  await bob.getByRole('textbox', { name: 'Message' }).fill('hello alice');
  await bob.getByRole('textbox', { name: 'Message' }).press('Enter');
  await expect(alice.getByRole('list', { name: 'Messages' })).toContainText('hello alice');

  const bobsView = bob.getByRole('list', { name: 'Messages' }).getByRole('listitem');
  await expect(bobsView).toHaveCount(2);
  // Alice never set a name: Bob sees her default one, the same on both sides.
  const alicesName = await alice
    .getByRole('textbox', { name: 'Your name' })
    .getAttribute('placeholder');
  expect(alicesName).toMatch(/^Guest [0-9A-F]{4}$/);
  await expect(bobsView.nth(0)).toContainText(alicesName ?? '');
  await expect(bobsView.nth(1)).toContainText('You');

  const panel = alice.getByRole('region', { name: 'NAT traversal diagnostics' });
  await expect(panel.getByTestId('verdict')).toHaveText('Direct');
  // Live graphs from getStats() at 1 Hz: RTT, and payload bytes per second each way.
  await expect(
    panel.getByRole('figure', { name: 'Round-trip time' }).getByRole('img'),
  ).toHaveAccessibleName(/^Round-trip time over the last \d+ s\. RTT: now [\d.]+ ms/);
  await expect(
    panel.getByRole('figure', { name: 'Bytes per second' }).getByRole('img'),
  ).toHaveAccessibleName(/\bsent: now [\d,.]+ B\/s, .*; received: /);

  // On the phone nothing runs off the side: wide tables scroll inside the panel, not the page.
  await expect(bob.getByRole('button', { name: 'Send', exact: true })).toBeInViewport();
  const pageWidth = await bob.evaluate(() => document.documentElement.scrollWidth);
  expect(pageWidth).toBeLessThanOrEqual(PHONE.width);
});

/** The "People" list of a page. */
const people = (page: Page) => page.getByRole('list', { name: 'People' }).getByRole('listitem');

test('three people chat in one room; one leaves, one reloads, a fourth finds it full', async ({
  browser,
}) => {
  // A server whose rooms hold three, so the fourth person is the one too many.
  const app = await startLoopbackApp(18081, 13480, { ROOM_SIZE: '3' });
  try {
    const [alice, bob, carol, dave] = await Promise.all(
      Array.from({ length: 4 }, () => person(browser)),
    );
    if (!alice || !bob || !carol || !dave) throw new Error('no browser contexts');
    await alice.goto(`${app.url}/`);
    await alice.getByRole('button', { name: 'Create room' }).click();
    // Focus lands on the link to share.
    await expect(alice.getByRole('textbox', { name: 'Room link' })).toBeFocused();
    await expect(alice.getByRole('heading', { level: 1 })).toHaveText('Chat room');
    const link = await alice.getByRole('textbox', { name: 'Room link' }).inputValue();
    await setName(alice, 'Alice');
    await bob.goto(link);
    await setName(bob, 'Bob');
    await carol.goto(link);
    await setName(carol, 'Carol');

    for (const page of [alice, bob, carol]) {
      await expect(people(page)).toHaveCount(3);
      await expect(page.getByRole('status')).toHaveText(
        'Connected to all 2 other people: 2 directly.',
      );
    }
    for (const [page, others] of [
      [alice, ['Bob', 'Carol']],
      [bob, ['Alice', 'Carol']],
      [carol, ['Alice', 'Bob']],
    ] as const) {
      await expect(people(page).filter({ hasText: '(you)' })).toHaveCount(1);
      for (const name of others) {
        await expect(people(page).filter({ hasText: name })).toContainText('Connected');
        await expect(people(page).filter({ hasText: name })).toContainText('Direct');
        // Beside each connected person, an RTT sparkline from that connection's getStats().
        await expect(
          people(page)
            .filter({ hasText: name })
            .getByRole('img', { name: /^Round-trip time over the last \d+ s: [\d.]+ ms now/ }),
        ).toBeVisible();
        await expect(
          page.getByRole('region', { name: `Connection to ${name}` }).getByTestId('verdict'),
        ).toHaveText('Direct');
      }
    }
    // Carol joined after the others: the page says earlier messages are not hers to see.
    await expect(carol.getByTestId('joined-late')).toBeVisible();

    await alice.getByRole('textbox', { name: 'Message' }).fill('hello both of you');
    await alice.getByRole('button', { name: 'Send', exact: true }).click();
    for (const page of [bob, carol]) {
      const line = page.getByRole('list', { name: 'Messages' }).getByRole('listitem');
      await expect(line.filter({ hasText: 'hello both of you' })).toHaveCount(1);
      await expect(line.filter({ hasText: 'hello both of you' })).toContainText('Alice');
    }
    await expect(
      alice.getByRole('list', { name: 'Messages' }).getByRole('listitem').filter({
        hasText: 'hello both of you',
      }),
    ).toContainText('delivered to all 2');

    // A fourth person: the room holds three, and the words say so.
    await dave.goto(link);
    await expect(dave.getByRole('status')).toHaveText(
      'This room is full: it holds 3 people and all 3 are here.',
    );

    // Carol reloads: she comes back as the same person, never as a duplicate.
    await carol.reload();
    await expect(carol.getByRole('textbox', { name: 'Your name' })).toHaveValue('Carol');
    for (const page of [alice, bob]) {
      await expect(people(page).filter({ hasText: 'Carol' })).toContainText('Connected');
      await expect(people(page)).toHaveCount(3);
    }
    await carol.getByRole('textbox', { name: 'Message' }).fill('back again');
    await carol.getByRole('button', { name: 'Send', exact: true }).click();
    for (const page of [alice, bob]) {
      await expect(
        page.getByRole('list', { name: 'Messages' }).getByRole('listitem').filter({
          hasText: 'back again',
        }),
      ).toHaveCount(1);
    }

    // Bob closes his tab: the others see him gone within seconds.
    await bob.context().close();
    for (const page of [alice, carol]) {
      await expect(people(page)).toHaveCount(2, { timeout: 10_000 });
      await expect(people(page).filter({ hasText: 'Bob' })).toHaveCount(0);
      await expect(page.getByRole('status')).toHaveText('Connected directly, peer to peer.');
    }
  } finally {
    await app.stop();
  }
});

test('a mistyped room link says so and offers a new room', async ({ page }) => {
  await page.goto('/r/not-a-room');
  await expect(page.getByRole('alert')).toHaveText(/not valid/);
  await expect(page.getByRole('button', { name: 'Create room' })).toBeVisible();
});
