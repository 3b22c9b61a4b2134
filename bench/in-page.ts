/**
 * Functions the benches run inside a page (`page.evaluate`). No named inner functions: tsx would
 * wrap them in a `__name` helper that does not exist in the page.
 */

/** A page's diagnostics panel shows its NAT's IPv4 behaviour: its NAT test is over. */
export const NAT_TESTED = '[data-testid="nat-ipv4"]';

/** Resolves once an element matches `selector`, watching the DOM with a MutationObserver. */
export function elementAppears(selector: string): Promise<void> {
  return new Promise((resolve) => {
    const observer = new MutationObserver(() => {
      if (!document.querySelector(selector)) return;
      observer.disconnect();
      resolve();
    });
    observer.observe(document.body, { childList: true, subtree: true });
    if (document.querySelector(selector)) {
      observer.disconnect();
      resolve();
    }
  });
}
