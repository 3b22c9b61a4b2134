import { expect, test } from './lab/fixture.ts';
import { closePeople, meet, panel, personOn, say, startApp, timelineMs } from './support/people.ts';
import { browserSelectedPair } from './support/webrtc-probe.ts';

test.afterEach(closePeople);

test('two people behind two NATs chat over a hole-punched direct path', async ({ buildLab }) => {
  const lab = await buildLab({ natA: 'cone', natB: 'cone' });
  await startApp(lab);
  const alice = await personOn(lab.hosts.a);
  const bob = await personOn(lab.hosts.b);
  await meet(lab, alice, bob);

  for (const page of [alice, bob]) {
    await expect(page.getByRole('status')).toHaveText('Connected directly, peer to peer.');
  }
  await say(alice, bob, 'hello from behind NAT A');
  await bob.getByRole('textbox', { name: 'Message' }).fill('and hello from NAT B');
  await bob.getByRole('textbox', { name: 'Message' }).press('Enter');
  await expect(alice.getByRole('list', { name: 'Messages' })).toContainText('and hello from NAT B');

  // Each panel's selected pair is srflx ↔ srflx, "Direct", and agrees with the browser's getStats().
  for (const [page, self, other] of [
    [alice, lab.hosts.a, lab.hosts.b],
    [bob, lab.hosts.b, lab.hosts.a],
  ] as const) {
    await expect(panel(page).getByTestId('verdict')).toHaveText('Direct');
    await expect(panel(page).getByTestId('selected-types')).toHaveText('srflx ↔ srflx');
    const own = await browserSelectedPair(page);
    expect(own).toMatchObject({
      localType: 'srflx',
      localAddress: self.wanIp,
      remoteType: 'srflx',
      remoteAddress: other.wanIp,
    });
    await expect(panel(page).getByTestId('selected-local')).toContainText(
      `srflx ${own?.localAddress}:${own?.localPort}`,
    );
    await expect(panel(page).getByTestId('selected-remote')).toContainText(
      `srflx ${own?.remoteAddress}:${own?.remotePort}`,
    );
  }

  // The figure issue #2 asks for: B opening the link → data channel open (B's own timeline).
  console.log(`nat-lab cone↔cone: B link open → data channel open ${await timelineMs(bob)} ms`);
});
