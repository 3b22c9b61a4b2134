/**
 * A group room across three homes (issue #10): A and B behind cone NATs, C behind a symmetric NAT,
 * coturn on the public segment. Every pair has its own path: A↔B is hole-punched (srflx↔srflx),
 * A↔C and B↔C need the relay. Each "Connection to …" section of each panel must say what that
 * browser's own getStats() says for that one peer connection, and messages reach everyone once.
 */
import type { Page } from '@playwright/test';
import { startCoturn } from './lab/coturn.ts';
import { expect, test } from './lab/fixture.ts';
import { appUrl, closePeople, personOn, setName, startApp } from './support/people.ts';
import { browserSelectedPairs, type IndexedSelectedPair } from './support/webrtc-probe.ts';

test.afterEach(closePeople);

const section = (page: Page, name: string) =>
  page.getByRole('region', { name: `Connection to ${name}` });

/** A browser pair as the panel writes it: `srflx 203.0.113.2:40000`, hidden addresses named so. */
const side = (type: string, address: string, port: number) =>
  `${type} ${address || '(hidden)'}:${port}`;

test('three homes, one room: each pair on its own path, each section true to its connection', async ({
  buildLab,
}) => {
  const lab = await buildLab({
    natA: 'cone',
    natB: 'cone',
    natC: 'symmetric',
    publicHosts: ['turn'],
  });
  const hostC = lab.hosts.c;
  if (!hostC) throw new Error('the lab was built without host C');
  const coturn = await startCoturn(lab, 'turn');
  await startApp(lab, { TURN_URLS: coturn.urls.join(','), TURN_SECRET: coturn.secret });

  const alice = await personOn(lab.hosts.a);
  const bob = await personOn(lab.hosts.b);
  const carol = await personOn(hostC);
  await alice.goto(appUrl(lab));
  await alice.getByRole('button', { name: 'Create room' }).click();
  const link = await alice.getByRole('textbox', { name: 'Room link' }).inputValue();
  await setName(alice, 'Alice');
  await bob.goto(link);
  await setName(bob, 'Bob');
  await carol.goto(link);
  await setName(carol, 'Carol');

  const people = { Alice: alice, Bob: bob, Carol: carol };
  const expected: Record<string, string> = {
    'Alice-Bob': 'Direct',
    'Alice-Carol': 'Relayed (TURN)',
    'Bob-Carol': 'Relayed (TURN)',
  };
  const verdictOf = (x: string, y: string) => expected[[x, y].sort().join('-')] ?? '';

  const rows: string[] = [];
  for (const [me, page] of Object.entries(people)) {
    const others = Object.keys(people).filter((name) => name !== me);
    const list = page.getByRole('list', { name: 'People' }).getByRole('listitem');
    await expect(list).toHaveCount(3, { timeout: 30_000 });
    for (const other of others) {
      const verdict = verdictOf(me, other);
      await expect(list.filter({ hasText: other })).toContainText('Connected', { timeout: 45_000 });
      await expect(list.filter({ hasText: other })).toContainText(verdict);
      await expect(section(page, other).getByTestId('verdict')).toHaveText(verdict);
      if (verdict === 'Direct') {
        await expect(section(page, other).getByTestId('selected-types')).toHaveText(
          /^(srflx|prflx) ↔ (srflx|prflx)$/,
        );
      }
    }

    // Each section names exactly one of this browser's open peer connections, and every open
    // connection is named by exactly one section. Polled: ICE may still switch the selected pair
    // between two reads (the panel reads getStats() once a second).
    const matched = new Set<number>();
    for (const other of others) {
      const text = async (id: string) =>
        ((await section(page, other).getByTestId(id).textContent()) ?? '').replace(/\s+/g, ' ');
      let mine: IndexedSelectedPair[] = [];
      let seen = '';
      await expect
        .poll(
          async () => {
            const pcs = await browserSelectedPairs(page);
            const local = await text('selected-local');
            const remote = await text('selected-remote');
            seen = `${local} | ${remote}; browser: ${JSON.stringify(pcs)}`;
            mine = pcs.filter(
              (pc) =>
                local.includes(side(pc.localType, pc.localAddress, pc.localPort)) &&
                remote.includes(side(pc.remoteType, pc.remoteAddress, pc.remotePort)),
            );
            return mine.length;
          },
          { timeout: 20_000, message: `${me}'s section for ${other} vs its browser: ${seen}` },
        )
        .toBe(1);
      const [pc] = mine;
      if (!pc) continue;
      matched.add(pc.index);
      const relayed = pc.localType === 'relay' || pc.remoteType === 'relay';
      expect(relayed ? 'Relayed (TURN)' : 'Direct').toBe(verdictOf(me, other));
      rows.push(
        `${me} → ${other} | ${verdictOf(me, other)} | ${side(pc.localType, pc.localAddress, pc.localPort)} ↔ ${side(pc.remoteType, pc.remoteAddress, pc.remotePort)}`,
      );
    }
    await expect.poll(async () => (await browserSelectedPairs(page)).length).toBe(2);
    expect(matched.size).toBe(2);
  }

  // A message from each person reaches the other two, exactly once, under the sender's name.
  for (const [me, page] of Object.entries(people)) {
    const text = `hello everyone, from ${me}`;
    await page.getByRole('textbox', { name: 'Message' }).fill(text);
    await page.getByRole('button', { name: 'Send' }).click();
    for (const [other, otherPage] of Object.entries(people)) {
      if (other === me) continue;
      const lines = otherPage
        .getByRole('list', { name: 'Messages' })
        .getByRole('listitem')
        .filter({ hasText: text });
      await expect(lines).toHaveCount(1);
      await expect(lines).toContainText(me);
    }
    await expect(
      page.getByRole('list', { name: 'Messages' }).getByRole('listitem').filter({ hasText: text }),
    ).toContainText('delivered to all 2');
  }
  console.log(`group lab (A cone, B cone, C symmetric, coturn):\n${rows.join('\n')}`);
});
