/**
 * The NAT traversal matrix of issue #3, in the lab, through the UI: every cell builds two home
 * networks (or one shared LAN), optionally coturn on the public segment, and checks what each
 * person's panel says — verdict, NAT classification, forecast — against the browser's own
 * `getStats()`. The table of outcomes is printed at the end of the run.
 */
import type { Page } from '@playwright/test';
import { expect, test } from './lab/fixture.ts';
import type { LabOptions, NatLab, NatMode } from './lab/nat-lab.ts';
import { startCoturn } from './lab/coturn.ts';
import {
  appUrl,
  closePeople,
  meet,
  panel,
  pathDiagram,
  personOn,
  say,
  startApp,
  timelineMs,
} from './support/people.ts';
import { browserSelectedPair, describePair } from './support/webrtc-probe.ts';

test.afterEach(closePeople);

/** What the panel calls each NAT mode of the lab (web/src/lib/nat/nat-classifier.ts). */
const NAT_LABELS: Record<NatMode, string> = {
  cone: 'one mapping for every destination (cone)',
  symmetric: 'varies by destination (symmetric)',
  'udp-blocked': 'no STUN answer (UDP blocked or server unreachable)',
};

interface Cell {
  name: string;
  lab: LabOptions;
  turn: boolean;
  /** The verdict both panels must show. */
  verdict: 'Direct' | 'Relayed (TURN)';
  /** Candidate types of A's selected pair, local ↔ remote; `null` = any. */
  pairTypes: RegExp;
  /** The forecast line (start). */
  forecast: RegExp;
  /** Transport to TURN that the UDP-blocked side must use. */
  relayOverTcp?: 'a' | 'b';
}

const CELLS: Cell[] = [
  {
    name: 'same LAN ↔ same LAN',
    lab: { natA: 'cone', natB: 'cone', sameLan: true },
    turn: false,
    verdict: 'Direct',
    pairTypes: /^host ↔ (host|prflx)$/,
    forecast: /^same network: a direct \(host\) path is likely/,
  },
  {
    name: 'cone ↔ cone',
    lab: { natA: 'cone', natB: 'cone' },
    turn: false,
    verdict: 'Direct',
    pairTypes: /^srflx ↔ srflx$/,
    forecast: /^a direct path is likely/,
  },
  {
    name: 'cone ↔ symmetric',
    lab: { natA: 'cone', natB: 'symmetric' },
    turn: true,
    verdict: 'Relayed (TURN)',
    pairTypes: /relay/,
    forecast: /^a relay \(TURN\) will be needed/,
  },
  {
    name: 'cone ↔ UDP blocked',
    lab: { natA: 'cone', natB: 'udp-blocked' },
    turn: true,
    verdict: 'Relayed (TURN)',
    pairTypes: /relay/,
    forecast: /^a relay \(TURN over TCP or TLS\) will be needed/,
    relayOverTcp: 'b',
  },
  {
    name: 'symmetric ↔ symmetric',
    lab: { natA: 'symmetric', natB: 'symmetric' },
    turn: true,
    verdict: 'Relayed (TURN)',
    pairTypes: /relay/,
    forecast: /^a relay \(TURN\) will be needed/,
  },
  {
    name: 'symmetric ↔ UDP blocked',
    lab: { natA: 'symmetric', natB: 'udp-blocked' },
    turn: true,
    verdict: 'Relayed (TURN)',
    pairTypes: /relay/,
    forecast: /^a relay \(TURN over TCP or TLS\) will be needed/,
    relayOverTcp: 'b',
  },
];

/** One printed row of the matrix. */
const rows: string[] = [];
test.afterAll(() => {
  if (rows.length === 0) return;
  const header = 'cell | outcome | A selected pair (local ↔ remote) | B link → channel open';
  console.log(
    `\nNAT traversal matrix\n${header}\n${'-'.repeat(header.length)}\n${rows.join('\n')}\n`,
  );
});

async function buildCell(
  buildLab: (opts: LabOptions) => Promise<NatLab>,
  cell: Pick<Cell, 'lab' | 'turn'>,
): Promise<NatLab> {
  const lab = await buildLab({ ...cell.lab, publicHosts: cell.turn ? ['turn'] : [] });
  const env: Record<string, string> = {};
  if (cell.turn) {
    const coturn = await startCoturn(lab, 'turn');
    env.TURN_URLS = coturn.urls.join(',');
    env.TURN_SECRET = coturn.secret;
  }
  await startApp(lab, env);
  return lab;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

async function expectClassified(page: Page, mode: NatMode): Promise<void> {
  await expect(
    panel(page).getByRole('group', { name: 'Your network' }).getByTestId('nat-ipv4'),
  ).toHaveText(NAT_LABELS[mode], { timeout: 30_000 });
}

for (const cell of CELLS) {
  test(`matrix: ${cell.name}`, async ({ buildLab }) => {
    const lab = await buildCell(buildLab, cell);
    const alice = await personOn(lab.hosts.a);
    const bob = await personOn(lab.hosts.b);
    await meet(lab, alice, bob);

    await say(alice, bob, `hello from A (${cell.name})`);
    await say(bob, alice, `hello from B (${cell.name})`);

    const modes = { a: cell.lab.natA, b: cell.lab.sameLan ? cell.lab.natA : cell.lab.natB };
    for (const [side, page] of [
      ['a', alice],
      ['b', bob],
    ] as const) {
      await expect(panel(page).getByTestId('verdict')).toHaveText(cell.verdict);
      await expectClassified(page, modes[side]);
      await expect(panel(page).getByTestId('forecast')).toHaveText(cell.forecast);
      await expect(panel(page).getByTestId('forecast-check')).toHaveText(/^The forecast held/);

      // The panel's selected pair is the browser's own.
      const own = await browserSelectedPair(page);
      expect(own, `${side}'s browser has a selected pair`).not.toBeNull();
      const types = `${own?.localType} ↔ ${own?.remoteType}`;
      await expect(panel(page).getByTestId('selected-types')).toHaveText(types);
      const relayed = own?.localType === 'relay' || own?.remoteType === 'relay';
      expect(relayed ? 'Relayed (TURN)' : 'Direct').toBe(cell.verdict);
      // The path diagram draws that pair: through whose relay, or direct, from our endpoint.
      const route =
        own?.localType === 'relay'
          ? /^Relayed through your (and their )?TURN server/
          : own?.remoteType === 'relay'
            ? /^Relayed through their TURN server/
            : /^Direct /;
      await expect(pathDiagram(page)).toHaveAccessibleName(route);
      const mine = `this device (${own?.localType} ${own?.localAddress || '(hidden)'}:${own?.localPort})`;
      await expect(pathDiagram(page)).toHaveAccessibleName(new RegExp(escapeRegExp(mine)));
      if (side === 'a') expect(types).toMatch(cell.pairTypes);
      if (cell.relayOverTcp === side) {
        expect(own?.localType).toBe('relay');
        expect(own?.localRelayProtocol).toBe('tcp');
      }
    }
    const pair = describePair(await browserSelectedPair(alice));
    rows.push(`${cell.name} | ${cell.verdict} | ${pair} | ${await timelineMs(bob)} ms`);
  });
}

test('matrix: symmetric ↔ symmetric without TURN: the failure is explained', async ({
  buildLab,
}) => {
  const lab = await buildCell(buildLab, {
    lab: { natA: 'symmetric', natB: 'symmetric' },
    turn: false,
  });
  const alice = await personOn(lab.hosts.a);
  const bob = await personOn(lab.hosts.b);
  await meet(lab, alice, bob);

  for (const page of [alice, bob]) {
    await expectClassified(page, 'symmetric');
    await expect(panel(page).getByTestId('forecast')).toHaveText(
      /^a relay \(TURN\) will be needed, but none is configured/,
    );
    const why = panel(page).getByRole('alert', { name: 'Why there is no connection' });
    await expect(why).toContainText(/symmetric|per destination|varies by destination/i, {
      timeout: 30_000,
    });
    await expect(why).toContainText('TURN_URLS');
    await expect(page.getByRole('status')).toHaveText(/Could not connect/);
    await expect(panel(page).getByTestId('verdict')).toHaveText('No connection yet');
    // No path drawn: the diagram says so rather than drawing a pair that does not work.
    await expect(pathDiagram(page)).toHaveAccessibleName(/^No path to /);
    expect(await browserSelectedPair(page)).toBeNull();
  }
  rows.push('symmetric ↔ symmetric, no TURN | failure explained | (none) | —');
});

test('Test TURN reports a working relay, refused credentials, and an unreachable server', async ({
  buildLab,
}) => {
  const lab = await buildLab({ natA: 'cone', natB: 'cone', publicHosts: ['turn'] });
  const coturn = await startCoturn(lab, 'turn');
  const cases = [
    {
      secret: coturn.secret,
      urls: coturn.urls.join(','),
      says: /^TURN works: .* gave the relay address 203\.0\.113\.20:\d+/,
    },
    {
      secret: `${coturn.secret}-wrong`,
      urls: coturn.urls.join(','),
      says: /refused our credentials/,
    },
    // Nothing listens on the lab server's port 3490: no relay can come back.
    {
      secret: coturn.secret,
      urls: `turn:${lab.serverIp}:3490?transport=udp`,
      says: /unreachable|no relay|did not answer/i,
    },
  ];
  for (const { secret, urls, says } of cases) {
    const server = await startApp(lab, { TURN_URLS: urls, TURN_SECRET: secret });
    const alice = await personOn(lab.hosts.a);
    await alice.goto(appUrl(lab));
    await alice.getByRole('button', { name: 'Create room' }).click();
    await panel(alice).getByRole('button', { name: 'Test TURN' }).click();
    await expect(panel(alice).getByTestId('turn-result')).toHaveText(says, { timeout: 20_000 });
    await closePeople();
    await lab.kill(server);
  }
});
