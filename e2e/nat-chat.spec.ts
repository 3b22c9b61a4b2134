import { chromium, type Browser, type Page } from '@playwright/test';
import { fileURLToPath } from 'node:url';
import { CHROMIUM_ARGS } from './chromium.ts';
import { expect, test } from './lab/fixture.ts';
import type { LabHost, NatLab } from './lab/nat-lab.ts';
import { browserSelectedPair, recordPeerConnections } from './support/webrtc-probe.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const PORT = 8080;
const STUN_PORT = 3478;

/** Starts the app server on the lab's public segment, as `npm start` runs it (page prebuilt). */
async function startServer(lab: NatLab): Promise<void> {
  const server = lab.spawn(lab.server.ns, ['node_modules/.bin/tsx', 'signaling/main.ts'], {
    cwd: REPO,
    env: { HOST: '0.0.0.0', PORT: String(PORT), STUN_PORT: String(STUN_PORT) },
  });
  try {
    await lab.waitForTcp(lab.hosts.a.ns, lab.serverIp, PORT);
  } catch (error) {
    throw new Error(`app server did not start:\n${lab.output(server)}`, { cause: error });
  }
}

const browsers: Browser[] = [];
test.afterEach(async () => {
  for (const browser of browsers.splice(0)) await browser.close();
});

/** A person on `host`: their own Chromium, inside the host's network namespace. */
async function personOn(host: LabHost): Promise<Page> {
  const browser = await chromium.launch({
    executablePath: host.chromiumWrapper,
    args: CHROMIUM_ARGS,
  });
  browsers.push(browser);
  const page = await (await browser.newContext()).newPage();
  await recordPeerConnections(page);
  return page;
}

/** ms from page open to "Data channel open", read off the panel's timeline. */
async function channelOpenMs(page: Page): Promise<number> {
  const step = page
    .getByRole('list', { name: 'Connection timeline' })
    .getByRole('listitem')
    .filter({ hasText: 'Data channel open' });
  const text = (await step.textContent()) ?? '';
  return Number(/(\d+) ms/.exec(text)?.[1]);
}

test('two people behind two NATs chat over a hole-punched direct path', async ({ buildLab }) => {
  const lab = await buildLab({ natA: 'cone', natB: 'cone' });
  await startServer(lab);
  const alice = await personOn(lab.hosts.a);
  const bob = await personOn(lab.hosts.b);

  await alice.goto(`http://${lab.serverIp}:${PORT}/`);
  await alice.getByRole('button', { name: 'Create room' }).click();
  const link = await alice.getByRole('textbox', { name: 'Room link' }).inputValue();
  await bob.goto(link);

  for (const page of [alice, bob]) {
    await expect(page.getByRole('status')).toHaveText('Connected directly, peer to peer.');
  }
  await alice.getByRole('textbox', { name: 'Message' }).fill('hello from behind NAT A');
  await alice.getByRole('button', { name: 'Send' }).click();
  await expect(bob.getByRole('list', { name: 'Messages' })).toContainText(
    'hello from behind NAT A',
  );
  await bob.getByRole('textbox', { name: 'Message' }).fill('and hello from NAT B');
  await bob.getByRole('textbox', { name: 'Message' }).press('Enter');
  await expect(alice.getByRole('list', { name: 'Messages' })).toContainText('and hello from NAT B');

  // Each panel's selected pair is srflx ↔ srflx, "Direct", and agrees with the browser's getStats().
  for (const [page, self, other] of [
    [alice, lab.hosts.a, lab.hosts.b],
    [bob, lab.hosts.b, lab.hosts.a],
  ] as const) {
    const panel = page.getByRole('region', { name: 'NAT traversal diagnostics' });
    await expect(panel.getByTestId('verdict')).toHaveText('Direct');
    await expect(panel.getByTestId('selected-types')).toHaveText('srflx ↔ srflx');
    const own = await browserSelectedPair(page);
    expect(own).toMatchObject({
      localType: 'srflx',
      localAddress: self.wanIp,
      remoteType: 'srflx',
      remoteAddress: other.wanIp,
    });
    await expect(panel.getByTestId('selected-local')).toContainText(
      `srflx ${own?.localAddress}:${own?.localPort}`,
    );
    await expect(panel.getByTestId('selected-remote')).toContainText(
      `srflx ${own?.remoteAddress}:${own?.remotePort}`,
    );
  }

  // The figure issue #2 asks for: B opening the link → data channel open (B's own timeline).
  console.log(`nat-lab cone↔cone: B link open → data channel open ${await channelOpenMs(bob)} ms`);
});
