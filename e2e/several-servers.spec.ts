/**
 * Several `npm start` processes on one Redis behind nginx (issue #12), on loopback: two people
 * whose signaling sockets land on different processes chat; then the process holding Alice's
 * socket is killed. The chat goes on peer to peer, her page reconnects through nginx to the other
 * process as the same peer, and Bob is never told she left, not even once the dead process's lease
 * has run out (REDIS_LEASE: 10 s + a 2 s refresh, signaling/redis-rooms.ts).
 *
 * What each process holds is read from its own `/metrics` (`signaling_sockets`), on its own port,
 * past nginx. What a page was told is read from its WebSocket frames, as its code sees them.
 */
import { expect, test, type Browser, type BrowserContext, type Page } from '@playwright/test';
import { startTestRedis, type TestRedis } from '../signaling/testing/redis.ts';
import { startLoopbackApp, type LoopbackApp } from './support/loopback-app.ts';
import { startNginx, type Nginx } from './support/nginx.ts';
import { say, setName } from './support/people.ts';

const NGINX_PORT = 18090;
const APPS = [
  { port: 18091, stunPort: 13500 },
  { port: 18092, stunPort: 13502 },
] as const;
/** A dead process's members are reaped within this (lease 10 s + refresh 2 s, README). */
const REAP_WITHIN_MS = 12_000;

/** A signaling message a page received, with when (`Date.now()`). */
interface Frame {
  at: number;
  type: string;
  id?: string;
  peers?: string[];
}

const contexts: BrowserContext[] = [];

/** A person: their own browser context; records every signaling frame the page receives. */
async function person(browser: Browser): Promise<{ page: Page; frames: Frame[] }> {
  const context = await browser.newContext();
  contexts.push(context);
  const page = await context.newPage();
  const frames: Frame[] = [];
  page.on('websocket', (socket) => {
    socket.on('framereceived', ({ payload }) => {
      if (typeof payload !== 'string') return;
      const message = JSON.parse(payload) as Omit<Frame, 'at'>;
      frames.push({ ...message, at: Date.now() });
    });
  });
  return { page, frames };
}

/** `signaling_sockets` of one process, from its own `/metrics`. */
async function socketsOn(app: LoopbackApp): Promise<number> {
  const text = await (await fetch(`${app.url}/metrics`)).text();
  return Number(/^signaling_sockets (\d+)$/m.exec(text)?.[1]);
}

/** Open sockets per process, in {@link APPS} order. */
function socketCounts(apps: readonly LoopbackApp[]): Promise<number[]> {
  return Promise.all(apps.map(socketsOn));
}

const status = (page: Page) => page.getByRole('status');
const people = (page: Page) => page.getByRole('list', { name: 'People' }).getByRole('listitem');

let redis: TestRedis | undefined;
let apps: LoopbackApp[] = [];
let nginx: Nginx | undefined;

test.afterEach(async () => {
  for (const context of contexts.splice(0)) await context.close();
  await nginx?.stop();
  await Promise.all(apps.map((app) => app.stop()));
  await redis?.stop();
  [nginx, apps, redis] = [undefined, [], undefined];
});

test('two people on two processes behind nginx chat; the process holding Alice’s socket dies and the room carries on', async ({
  browser,
}) => {
  test.setTimeout(120_000);
  redis = await startTestRedis();
  const env = { REDIS_URL: redis.url, TRUST_PROXY: '1' };
  apps = await Promise.all(APPS.map((app) => startLoopbackApp(app.port, app.stunPort, env)));
  nginx = await startNginx(
    NGINX_PORT,
    APPS.map((app) => `127.0.0.1:${app.port}`),
  );

  const alice = await person(browser);
  const bob = await person(browser);
  await alice.page.goto(nginx.url);
  await alice.page.getByRole('button', { name: 'Create room' }).click();
  await setName(alice.page, 'Alice');
  const link = await alice.page.getByRole('textbox', { name: 'Room link' }).inputValue();
  expect(link.startsWith(`${nginx.url}/r/`)).toBe(true);
  await expect(status(alice.page)).toHaveText(/Waiting for others/);
  await expect.poll(() => socketCounts(apps)).toContain(1);
  const alicesProcess = (await socketCounts(apps)).indexOf(1);
  const other = 1 - alicesProcess;

  await bob.page.goto(link);
  await setName(bob.page, 'Bob');
  for (const { page } of [alice, bob]) {
    await expect(status(page)).toHaveText('Connected directly, peer to peer.');
  }
  // Round-robin put Bob on the other process: one socket on each, one room across both.
  expect(await socketCounts(apps)).toEqual([1, 1]);
  await say(alice.page, bob.page, 'hello from process A’s side');
  await say(bob.page, alice.page, 'and hello from the other one');
  const aliceId = alice.frames.find((frame) => frame.type === 'joined')?.id;
  expect(aliceId).toMatch(/\S/);

  await apps[alicesProcess]!.kill(); // SIGKILL: no close frames, no leave written to Redis
  const killedAt = Date.now();

  // The data channel needs no server: the chat goes on while Alice's page reconnects.
  await expect(alice.page.getByRole('list', { name: 'Connection timeline' }).first()).toContainText(
    'Signaling lost, reconnecting',
  );
  await say(alice.page, bob.page, 'my server just died, still here?');
  await say(bob.page, alice.page, 'still here, peer to peer');

  // Through nginx to the live process, with her resume token: the same peer id.
  await expect
    .poll(() => alice.frames.some((frame) => frame.type === 'joined' && frame.at > killedAt), {
      timeout: 20_000,
    })
    .toBe(true);
  const rejoined = alice.frames.find((frame) => frame.type === 'joined' && frame.at > killedAt)!;
  expect(rejoined.id).toBe(aliceId);
  await expect.poll(() => socketsOn(apps[other]!)).toBe(2);
  // Bob hears she is back, as the same peer.
  await expect
    .poll(() =>
      bob.frames.some((f) => f.type === 'peer-joined' && f.id === aliceId && f.at > killedAt),
    )
    .toBe(true);
  const backAt = bob.frames.find((f) => f.type === 'peer-joined' && f.at > killedAt)!.at;

  // Past the dead process's lease: its reaping must not take Alice, who now lives on the other.
  await new Promise((resolve) =>
    setTimeout(resolve, killedAt + REAP_WITHIN_MS + 3000 - Date.now()),
  );
  expect(bob.frames.filter((frame) => frame.type === 'peer-left')).toEqual([]);
  await expect(status(bob.page)).toHaveText('Connected directly, peer to peer.');
  await expect(people(bob.page)).toHaveCount(2);
  await expect(people(bob.page).filter({ hasText: 'Alice' })).toHaveCount(1);
  await say(alice.page, bob.page, 'after the lease ran out');

  // The room in Redis is right too: Bob reloads (onto the live process) and finds Alice there.
  await bob.page.reload();
  for (const { page } of [alice, bob]) {
    await expect(status(page)).toHaveText('Connected directly, peer to peer.');
  }
  const bobsJoins = bob.frames.filter((frame) => frame.type === 'joined');
  expect(bobsJoins.at(-1)?.peers).toEqual([aliceId]);
  await say(bob.page, alice.page, 'reloaded, found you');
  expect(await socketsOn(apps[other]!)).toBe(2);

  console.log(
    `several servers: process killed → Alice rejoined as the same peer in ${rejoined.at - killedAt} ms ` +
      `(Bob told she is back after ${backAt - killedAt} ms); no peer-left in ` +
      `${Date.now() - killedAt} ms`,
  );
});
