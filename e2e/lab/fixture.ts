/**
 * Playwright fixture for specs that need the NAT lab. `buildLab` builds one (or more, with other
 * prefixes) and tears every lab down after the test, pass or fail. With `SKIP_NAT_LAB=1` the test
 * is skipped; any other reason a lab can't be built fails the test with a `NatLabError`.
 *
 * ```ts
 * import { test } from './lab/fixture.ts';   // or mergeTests(test, yourFixtures)
 * test('…', async ({ buildLab }) => {
 *   const lab = await buildLab({ natA: 'cone', natB: 'cone' });
 * });
 * ```
 */
import { test as base } from '@playwright/test';
import { buildNatLab, natLabSkipReason, type LabOptions, type NatLab } from './nat-lab.ts';

export interface NatLabFixtures {
  /** Builds a lab for this test; see `buildNatLab`. Torn down when the test ends. */
  buildLab: (opts: LabOptions) => Promise<NatLab>;
}

export const test = base.extend<NatLabFixtures>({
  // eslint-disable-next-line no-empty-pattern -- Playwright requires the destructuring form
  buildLab: async ({}, use, testInfo) => {
    const skipReason = natLabSkipReason();
    testInfo.skip(skipReason !== null, skipReason ?? '');
    const labs: NatLab[] = [];
    await use(async (opts) => {
      const lab = await buildNatLab(opts);
      labs.push(lab);
      return lab;
    });
    for (const lab of labs.reverse()) await lab.teardown();
  },
});

export { expect } from '@playwright/test';
