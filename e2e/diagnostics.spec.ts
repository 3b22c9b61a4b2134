import { expect, test, type Browser, type Page } from '@playwright/test';
import { readFile } from 'node:fs/promises';

async function person(browser: Browser): Promise<Page> {
  return (await browser.newContext()).newPage();
}

/** Clicks "Export diagnostics" and returns the downloaded JSON document. */
async function exportDiagnostics(
  page: Page,
): Promise<{ text: string; json: Record<string, unknown> }> {
  const download = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Export diagnostics' }).click();
  const text = await readFile((await (await download).path())!, 'utf8');
  return { text, json: JSON.parse(text) as Record<string, unknown> };
}

test("Export diagnostics downloads both ends' view of each connection, with addresses hidden unless asked", async ({
  browser,
}) => {
  const alice = await person(browser);
  const bob = await person(browser);
  await alice.goto('/');
  await alice.getByRole('button', { name: 'Create room' }).click();
  await bob.goto(await alice.getByRole('textbox', { name: 'Room link' }).inputValue());
  for (const page of [alice, bob]) {
    await expect(page.getByRole('status')).toHaveText('Connected directly, peer to peer.');
  }
  // The export asks Bob for his current view of the pair through signaling, then waits for it:
  // one click holds both ends' view (issue #10: views are no longer pushed every 2 s).
  const redacted = await exportDiagnostics(alice);
  expect(redacted.json).toMatchObject({
    format: 'holepunch-chat-diagnostics',
    version: 2,
    addressesRedacted: true,
    local: { people: 2, status: 'Connected directly, peer to peer.' },
    connections: [
      {
        local: { verdict: 'Direct', states: { connectionState: 'connected' } },
        remote: { verdict: 'Direct', states: { connectionState: 'connected' } },
      },
    ],
  });
  // Chromium names host candidates <uuid>.local; the export must not carry them.
  expect(redacted.text).not.toMatch(/[0-9a-f-]{36}\.local/);
  expect(redacted.text).toMatch(/mdns-\d+/);

  await alice.getByRole('checkbox', { name: 'Include IP addresses' }).check();
  const full = await exportDiagnostics(alice);
  expect(full.json.addressesRedacted).toBe(false);
  expect(full.text).toMatch(/[0-9a-f-]{36}\.local/);
});
