/** A page's JavaScript heap, read through the DevTools protocol (Chromium only). */
import type { Page } from '@playwright/test';

/**
 * JS heap in use by `page`'s renderer, bytes (`Runtime.getHeapUsage`), after two full garbage
 * collections first when `gc` (what a page still holds, not what it has yet to free).
 */
export async function heapUsed(page: Page, gc = false): Promise<number> {
  const cdp = await page.context().newCDPSession(page);
  if (gc) {
    await cdp.send('HeapProfiler.collectGarbage');
    await cdp.send('HeapProfiler.collectGarbage');
  }
  const { usedSize } = await cdp.send('Runtime.getHeapUsage');
  await cdp.detach();
  return usedSize;
}
