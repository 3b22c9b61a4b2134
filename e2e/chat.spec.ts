import { expect, test, type Browser, type Page } from '@playwright/test';

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
  await expect(alice.getByRole('status')).toHaveText(/Waiting for the other person/);

  // Alice types before Bob is there: the draft waits, it is not lost.
  await alice.getByRole('textbox', { name: 'Message' }).fill('hi bob');
  await expect(alice.getByRole('button', { name: 'Send' })).toBeDisabled();

  await bob.goto(link);
  await expect(alice.getByRole('status')).toHaveText(/Connected/);
  await expect(bob.getByRole('status')).toHaveText(/Connected/);

  await alice.getByRole('button', { name: 'Send' }).click();
  await expect(bob.getByRole('list', { name: 'Messages' })).toContainText('hi bob');
  await expect(alice.getByRole('textbox', { name: 'Message' })).toHaveValue('');

  await bob.getByRole('textbox', { name: 'Message' }).fill('hello alice');
  await bob.getByRole('textbox', { name: 'Message' }).press('Enter');
  await expect(alice.getByRole('list', { name: 'Messages' })).toContainText('hello alice');

  const bobsView = bob.getByRole('list', { name: 'Messages' }).getByRole('listitem');
  await expect(bobsView).toHaveCount(2);
  await expect(bobsView.nth(0)).toContainText('Them');
  await expect(bobsView.nth(1)).toContainText('You');

  const panel = alice.getByRole('region', { name: 'NAT traversal diagnostics' });
  await expect(panel.getByTestId('verdict')).toHaveText('Direct');

  // On the phone nothing runs off the side: wide tables scroll inside the panel, not the page.
  await expect(bob.getByRole('button', { name: 'Send' })).toBeInViewport();
  const pageWidth = await bob.evaluate(() => document.documentElement.scrollWidth);
  expect(pageWidth).toBeLessThanOrEqual(PHONE.width);
});

test('a third person is told the room is full', async ({ browser }) => {
  const alice = await person(browser);
  const bob = await person(browser);
  const carol = await person(browser);
  await alice.goto('/');
  await alice.getByRole('button', { name: 'Create room' }).click();
  const link = await alice.getByRole('textbox', { name: 'Room link' }).inputValue();
  await bob.goto(link);
  await expect(bob.getByRole('status')).toHaveText(/Connected/);
  await carol.goto(link);
  await expect(carol.getByRole('status')).toHaveText(/This room is full/);
  await expect(alice.getByRole('status')).toHaveText(/Connected/);
});

test('a mistyped room link says so and offers a new room', async ({ page }) => {
  await page.goto('/r/not-a-room');
  await expect(page.getByRole('alert')).toHaveText(/not valid/);
  await expect(page.getByRole('button', { name: 'Create room' })).toBeVisible();
});
