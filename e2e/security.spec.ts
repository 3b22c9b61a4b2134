/**
 * The page's security headers as a browser applies them (issue #9): the whole app runs under its
 * Content-Security-Policy without a single violation, and another site cannot show a room inside
 * a frame (where the "Codes match" button could be overlaid: clickjacking).
 */
import { expect, test, type Page } from '@playwright/test';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Records every CSP violation the page reports, from before its first script runs. */
async function recordViolations(page: Page): Promise<() => Promise<string[]>> {
  await page.addInitScript(() => {
    const seen: string[] = [];
    Reflect.set(window, '__cspViolations', seen);
    document.addEventListener('securitypolicyviolation', (event) => {
      seen.push(`${event.violatedDirective} blocked ${event.blockedURI || '(inline)'}`);
    });
  });
  return () => page.evaluate(() => Reflect.get(window, '__cspViolations') as string[]);
}

test('the app runs under its Content-Security-Policy without a violation', async ({ browser }) => {
  const alice = await (await browser.newContext()).newPage();
  const bob = await (await browser.newContext()).newPage();
  const violations = await Promise.all([recordViolations(alice), recordViolations(bob)]);

  const response = await alice.goto('/');
  expect(response?.headers()['content-security-policy']).toContain("frame-ancestors 'none'");
  await alice.getByRole('button', { name: 'Create room' }).click();
  const link = await alice.getByRole('textbox', { name: 'Room link' }).inputValue();
  await bob.goto(link);
  await expect(bob.getByRole('status')).toHaveText(/Connected/);
  await alice.getByRole('textbox', { name: 'Message' }).fill('under the policy');
  await alice.getByRole('button', { name: 'Send', exact: true }).click();
  await expect(bob.getByRole('list', { name: 'Messages' })).toContainText('under the policy');
  // The panel's export builds a download from a blob: allowed, and no violation.
  const download = alice.waitForEvent('download');
  await alice.getByRole('button', { name: 'Export diagnostics' }).click();
  expect((await download).suggestedFilename()).toMatch(/\.json$/);

  for (const read of violations) expect(await read()).toEqual([]);
});

test('another site cannot show a room inside a frame', async ({ page, baseURL }) => {
  const room = `${baseURL}/r/${'F'.repeat(22)}`;
  // A page of another origin (another loopback address: a public origin could not frame a
  // loopback one anyway, Private Network Access) that frames the room, as a clickjacking site
  // would.
  const attacker = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(`<!doctype html><title>win a prize</title><iframe src="${room}"></iframe>`);
  });
  await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.2', resolve));
  try {
    const { port } = attacker.address() as AddressInfo;
    // `load` waits for the frame too: the room, or the browser's error page in its place.
    await page.goto(`http://127.0.0.2:${port}/`, { waitUntil: 'load' });
    const framed = page.frameLocator('iframe');
    await expect(framed.getByRole('button')).toHaveCount(0);
    await expect(framed.getByText('Holepunch chat')).toHaveCount(0);
  } finally {
    attacker.close();
  }
  // The same room in a tab of its own loads as usual (so the check above can fail).
  await page.goto(room);
  await expect(page.getByText('Holepunch chat')).toBeVisible();
});
