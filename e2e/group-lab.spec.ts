/**
 * A group room across three homes (issue #10): A and B behind cone NATs, C behind a symmetric NAT,
 * coturn on the public segment. Every pair has its own path: A↔B is hole-punched (srflx↔srflx),
 * A↔C and B↔C need the relay, because C's NAT maps each destination afresh (RFC 4787 §4.1) and
 * its STUN-learned address is useless to a peer (RFC 8445 §2.1). Each "Connection to …" section
 * of each panel must say what that browser's own getStats() says for that one peer connection,
 * and messages reach everyone once.
 */
import type { Page } from '@playwright/test';
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { startCoturn } from './lab/coturn.ts';
import { expect, test } from './lab/fixture.ts';
import type { LabHost } from './lab/nat-lab.ts';
import { startReflector, startUdpPeer } from './lab/probes.ts';
import {
  closePeople,
  connectionTo,
  createRoom,
  personOn,
  setName,
  startApp,
} from './support/people.ts';
import {
  browserPeerConnections,
  browserSelectedPairs,
  describePair,
  type IndexedSelectedPair,
} from './support/webrtc-probe.ts';

test.afterEach(closePeople);

type Verdict = 'Direct' | 'Relayed (TURN)';

/** One person: a name, the lab host their browser runs on, and its page. */
interface Person {
  name: string;
  host: LabHost;
  page: Page;
}

/** The verdict of each pair, by the two names in alphabetical order. */
const VERDICTS: Readonly<Record<string, Verdict>> = {
  'Alice+Bob': 'Direct',
  'Alice+Carol': 'Relayed (TURN)',
  'Bob+Carol': 'Relayed (TURN)',
};

function verdictOf(x: Person, y: Person): Verdict {
  const verdict = VERDICTS[[x.name, y.name].sort().join('+')];
  if (!verdict) throw new Error(`No expected verdict for ${x.name} and ${y.name}`);
  return verdict;
}

/** One side of a pair as the panel writes it (`srflx 203.0.113.2:40000`), hidden or not. */
function endpoint(type: string, address: string, port: number): string {
  // Chromium hides mDNS host and remote prflx addresses from stats (webrtc-stats §7.14).
  return `${type} ${address || '(hidden)'}:${port}`;
}

/** Does this connection's pair read exactly as a section's three lines? */
function shownAs(
  pc: IndexedSelectedPair,
  shown: { types: string; local: string; remote: string },
): boolean {
  const relay = pc.localRelayProtocol ? `, to TURN over ${pc.localRelayProtocol})` : ')';
  return (
    shown.types === `${pc.localType} ↔ ${pc.remoteType}` &&
    shown.local.startsWith(`${endpoint(pc.localType, pc.localAddress, pc.localPort)} (`) &&
    shown.local.endsWith(relay) &&
    shown.remote.startsWith(`${endpoint(pc.remoteType, pc.remoteAddress, pc.remotePort)} (`)
  );
}

/** How long we listen before calling a datagram lost; lab paths take well under a millisecond. */
const SILENCE_MS = 700;

test('the third home: C behind its own router, which maps as its mode says and can go offline', async ({
  buildLab,
}) => {
  const twoHomes = await buildLab({ natA: 'cone', natB: 'cone' });
  expect(twoHomes.hosts.c).toBeUndefined();
  for (const ns of ['c', 'rc']) expect(twoHomes.namespaces).not.toContain(twoHomes.prefix + ns);
  await expect(twoHomes.setUplink('c', false)).rejects.toMatchObject({ code: 'BAD_OPTIONS' });
  await twoHomes.teardown();

  const lab = await buildLab({ natA: 'cone', natB: 'cone', natC: 'symmetric' });
  const { c } = lab.hosts;
  if (!c) throw new Error('The lab was built with natC, so it must have host C');
  expect({ ip: c.ip, wanIp: c.wanIp }).toEqual({ ip: '10.0.3.2', wanIp: '203.0.113.4' });
  const [server, otherPort] = await Promise.all([
    startReflector(lab, lab.server, 3478),
    startReflector(lab, lab.server, 3479),
  ]);
  const peer = await startUdpPeer(lab, c.ns);
  const seen = [];
  for (const reflector of [server, otherPort]) seen.push(await peer.askReflector(reflector));
  // Address-and-port-dependent mapping (RFC 4787 §4.1): one address, a port per destination.
  expect(seen.map((s) => s?.ip)).toEqual([c.wanIp, c.wanIp]);
  expect(new Set(seen.map((s) => s?.port)).size).toBe(2);

  // C's home alone goes offline; A's still reaches the server.
  const neighbour = await startUdpPeer(lab, lab.hosts.a.ns);
  await lab.setUplink('c', false);
  expect(await peer.askReflector(server, { attempts: 2, timeoutMs: SILENCE_MS })).toBeNull();
  expect(await neighbour.askReflector(server)).toMatchObject({ ip: lab.hosts.a.wanIp });
  await lab.setUplink('c', true);
  expect(await peer.askReflector(server)).toMatchObject({ ip: c.wanIp });
});

test('three homes, one room: each pair on its own path, each section true to its connection', async ({
  buildLab,
}) => {
  const lab = await buildLab({
    natA: 'cone',
    natB: 'cone',
    natC: 'symmetric',
    publicHosts: ['turn'],
  });
  const { a, b, c } = lab.hosts;
  if (!c) throw new Error('The lab was built with natC, so it must have host C');
  const coturn = await startCoturn(lab, 'turn');
  await startApp(lab, { TURN_URLS: coturn.urls.join(','), TURN_SECRET: coturn.secret });

  const alice: Person = { name: 'Alice', host: a, page: await personOn(a) };
  const bob: Person = { name: 'Bob', host: b, page: await personOn(b) };
  const carol: Person = { name: 'Carol', host: c, page: await personOn(c) };
  const people = [alice, bob, carol];
  const link = await createRoom(lab, alice.page);
  await setName(alice.page, alice.name);
  for (const person of [bob, carol]) {
    await person.page.goto(link);
    await setName(person.page, person.name);
  }

  const rows: string[] = [];
  for (const me of people) {
    const others = people.filter((person) => person !== me);
    const items = me.page.getByRole('list', { name: 'People' }).getByRole('listitem');
    await expect(items).toHaveCount(people.length, { timeout: 30_000 });
    await expect(items.filter({ hasText: '(you)' })).toHaveText(new RegExp(`^\\s*${me.name}\\b`));
    for (const other of others) {
      const verdict = verdictOf(me, other);
      const item = items.filter({ hasText: other.name });
      await expect(item).toHaveCount(1);
      await expect(item).toContainText(/\bConnected\b/, { timeout: 45_000 });
      await expect(item).toContainText(verdict);
      const section = connectionTo(me.page, other.name);
      await expect(section.getByTestId('verdict')).toHaveText(verdict);
      if (verdict === 'Direct') {
        // A remote prflx is the other's srflx, learned from its check before its candidate.
        await expect(section.getByTestId('selected-types')).toHaveText(/^srflx ↔ (srflx|prflx)$/);
      }
    }

    // Each section names exactly one of this browser's open peer connections, and every open
    // connection is named by exactly one section. Polled: ICE may still switch the selected pair
    // between the two reads (the panel reads getStats() about once a second).
    const matched = new Map<number, string>();
    for (const other of others) {
      const section = connectionTo(me.page, other.name);
      const read = async (testId: string) =>
        ((await section.getByTestId(testId).textContent()) ?? '').replace(/\s+/g, ' ').trim();
      let mine: IndexedSelectedPair[] = [];
      await expect
        .poll(
          async () => {
            const pcs = await browserSelectedPairs(me.page);
            const shown = {
              types: await read('selected-types'),
              local: await read('selected-local'),
              remote: await read('selected-remote'),
            };
            mine = pcs.filter((pc) => shownAs(pc, shown));
            return { matches: mine.length, shown, browser: pcs.map(describePair) };
          },
          {
            timeout: 20_000,
            message: `${me.name}'s "Connection to ${other.name}" against its own getStats()`,
          },
        )
        .toMatchObject({ matches: 1 });
      const pc = mine[0];
      if (!pc) throw new Error('unreachable: the poll above saw exactly one match');
      expect(matched.get(pc.index), `${me.name}'s connection #${pc.index}`).toBeUndefined();
      matched.set(pc.index, other.name);

      // The browser's own pair says the same as the verdict, on the lab's own addresses.
      const verdict = verdictOf(me, other);
      const relayed = pc.localType === 'relay' || pc.remoteType === 'relay';
      expect(relayed ? 'Relayed (TURN)' : 'Direct').toBe(verdict);
      if (verdict === 'Direct') {
        expect(pc.localAddress).toBe(me.host.wanIp);
        if (pc.remoteAddress) expect(pc.remoteAddress).toBe(other.host.wanIp);
      } else {
        const relayAddress = pc.localType === 'relay' ? pc.localAddress : pc.remoteAddress;
        expect(relayAddress).toBe(coturn.ip);
      }
      rows.push(`${me.name} → ${other.name} | ${verdict} | ${describePair(pc)}`);
    }
    const open = (await browserPeerConnections(me.page))
      .filter((pc) => pc.connectionState !== 'closed')
      .map((pc) => pc.index);
    expect(open.sort(), `${me.name}'s open peer connections, each named by one section`).toEqual(
      [...matched.keys()].sort(),
    );
  }

  // A message from each person reaches the other two, exactly once, under the sender's name.
  const lines = (page: Page, text: string) =>
    page.getByRole('list', { name: 'Messages' }).getByRole('listitem').filter({ hasText: text });
  const said = (person: Person) => `hello everyone, from ${person.name}`;
  for (const me of people) {
    await me.page.getByRole('textbox', { name: 'Message' }).fill(said(me));
    await me.page.getByRole('button', { name: 'Send', exact: true }).click();
    for (const other of people.filter((person) => person !== me)) {
      await expect(lines(other.page, said(me))).toHaveCount(1);
      await expect(lines(other.page, said(me))).toContainText(me.name);
    }
    await expect(lines(me.page, said(me))).toContainText('You');
    await expect(lines(me.page, said(me))).toContainText('delivered to all 2');
  }
  // Once more after everyone spoke: a duplicate would have had time to arrive by now.
  for (const me of people) {
    for (const person of people) await expect(lines(me.page, said(person))).toHaveCount(1);
  }

  // One file from Alice reaches both others (issue #11), each over their own path: Bob's direct,
  // Carol's through the relay; both saved copies have Alice's SHA-256.
  const original = randomBytes(5_000_000);
  const chooser = alice.page.waitForEvent('filechooser');
  await alice.page.getByRole('button', { name: 'Send file' }).click();
  await (await chooser).setFiles({ name: 'for-both.bin', mimeType: '', buffer: original });
  const fileLine = (page: Page) =>
    page
      .getByRole('list', { name: 'Messages' })
      .getByRole('listitem', { name: 'File for-both.bin' });
  for (const person of [bob, carol]) {
    await fileLine(person.page).getByRole('button', { name: 'Accept' }).click();
  }
  for (const person of [bob, carol]) {
    const save = fileLine(person.page).getByRole('link', { name: 'Save' });
    await expect(save).toBeVisible({ timeout: 60_000 });
    const download = person.page.waitForEvent('download');
    await save.click();
    const copy = await readFile(await (await download).path());
    expect(createHash('sha256').update(copy).digest('hex')).toBe(
      createHash('sha256').update(original).digest('hex'),
    );
    await expect(fileLine(alice.page)).toContainText(`Delivered to ${person.name}`);
  }

  // `npm run screenshot` (SCREENSHOT_OUT set): the README's picture of the panel is Alice's page
  // in this very room, one person direct and one relayed (issue #13), never drawn by hand.
  const out = process.env.SCREENSHOT_OUT;
  if (out) {
    await alice.page.setViewportSize({ width: 1280, height: 900 });
    for (const other of [bob, carol]) {
      const rtt = connectionTo(alice.page, other.name)
        .getByRole('figure', { name: 'Round-trip time' })
        .getByRole('img');
      await expect(rtt).toHaveAttribute('aria-label', /now \d/, { timeout: 20_000 });
    }
    // Ten more seconds of 1 Hz readings, so the graphs show lines rather than dots.
    await alice.page.waitForTimeout(10_000);
    // One picture: the top of the page down to the direct section's diagram and, under it, the
    // relayed section down to its diagram, cut from the same page and put together by the same
    // browser (no image library for a README picture).
    await alice.page.evaluate(() => window.scrollTo(0, 0));
    // At scroll 0, boxes' viewport coordinates are page coordinates, as full-page clips want.
    const box = async (name: string) => {
      const found = await connectionTo(alice.page, name)
        .getByRole('figure', { name: 'Path diagram' })
        .boundingBox();
      if (!found) throw new Error(`No path diagram in "Connection to ${name}"`);
      return found;
    };
    const direct = await box(bob.name);
    const height = Math.ceil(direct.y + direct.height + 16);
    const top = await alice.page.screenshot({
      clip: { x: 0, y: 0, width: 1280, height },
      fullPage: true,
    });
    const relayedDiagram = await box(carol.name);
    const relayed = await connectionTo(alice.page, carol.name).boundingBox();
    if (!relayed) throw new Error('The section "Connection to Carol" is not on the page');
    const clip = {
      x: relayed.x,
      y: relayed.y,
      width: relayed.width,
      height: Math.ceil(relayedDiagram.y + relayedDiagram.height + 16 - relayed.y),
    };
    const bottom = await alice.page.screenshot({ clip, fullPage: true });
    const sheet = await alice.page.context().newPage();
    await sheet.setViewportSize({ width: 1280, height: height + 12 + clip.height });
    const src = (png: Buffer) => `data:image/png;base64,${png.toString('base64')}`;
    await sheet.setContent(
      `<body style="margin:0;background:#f6f6f4"><img src="${src(top)}" style="display:block">` +
        `<img src="${src(bottom)}" style="display:block;margin:12px 0 0 ${clip.x}px"></body>`,
    );
    await sheet.screenshot({ path: out });
    await sheet.close();
    console.log(`screenshot: wrote ${out}`);
  }

  const header = 'who → whom | verdict | selected pair (local ↔ remote), browser getStats()';
  console.log(
    `\nGroup room: A cone, B cone, C symmetric, coturn\n${header}\n${'-'.repeat(header.length)}\n${rows.join('\n')}\n`,
  );
});
