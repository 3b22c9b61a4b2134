/**
 * `npm start` serving HTTPS itself (TLS_CERT/TLS_KEY, issue #12): a certificate made here by
 * openssl, two people on `https://` and `wss://`, and Copy link through the clipboard API.
 *
 * The page is opened as `chat.test` (RFC 6761 §6.2: reserved for tests), which Chromium maps to
 * 127.0.0.1, and not as `localhost`: a browser treats http://localhost as a secure context too,
 * so there `isSecureContext` and the clipboard would prove nothing about TLS.
 */
import { expect, test, type Browser, type BrowserContext, type Page } from '@playwright/test';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { get } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './chromium.ts';
import { setName } from './support/people.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const HOSTNAME = 'chat.test';
const PORT = 18443;
const STUN_PORT = 13490;
const ORIGIN = `https://${HOSTNAME}:${PORT}`;

test.use({
  launchOptions: {
    executablePath: CHROMIUM_PATH,
    args: [...CHROMIUM_ARGS, `--host-resolver-rules=MAP ${HOSTNAME} 127.0.0.1`],
  },
});

/** A self-signed certificate for {@link HOSTNAME} in `dir`, as an operator would name it. */
function makeCertificate(dir: string): { certPath: string; keyPath: string } {
  const certPath = join(dir, 'cert.pem');
  const keyPath = join(dir, 'key.pem');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
      .concat(['-days', '1', '-subj', `/CN=${HOSTNAME}`])
      .concat(['-addext', `subjectAltName=DNS:${HOSTNAME}`])
      .concat(['-keyout', keyPath, '-out', certPath]),
    { stdio: 'ignore' },
  );
  return { certPath, keyPath };
}

/** Whether `/healthz` answers 200 over TLS with exactly our certificate for {@link HOSTNAME}. */
function healthy(cert: Buffer): Promise<boolean> {
  return new Promise((resolve) => {
    const request = get(
      { host: '127.0.0.1', port: PORT, path: '/healthz', ca: cert, servername: HOSTNAME },
      (response) => {
        response.resume();
        resolve(response.statusCode === 200);
      },
    );
    request.on('error', () => resolve(false));
  });
}

/**
 * Starts `signaling/main.ts` as `npm start` runs it (page prebuilt) with TLS_CERT/TLS_KEY, and
 * waits until it answers over TLS (at most 15 s).
 * @throws Error with the server's output if it does not come up.
 */
async function startHttpsApp(files: { certPath: string; keyPath: string }) {
  const child = spawn('node_modules/.bin/tsx', ['signaling/main.ts'], {
    cwd: REPO,
    env: {
      ...process.env,
      HOST: '127.0.0.1',
      PORT: String(PORT),
      STUN_PORT: String(STUN_PORT),
      LOG_LEVEL: 'warn',
      TLS_CERT: files.certPath,
      TLS_KEY: files.keyPath,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const stop = async () => {
    if (child.exitCode !== null) return;
    child.kill('SIGTERM');
    await once(child, 'exit');
  };
  const cert = readFileSync(files.certPath);
  for (let waited = 0; waited < 15_000 && child.exitCode === null; waited += 200) {
    if (await healthy(cert)) return { stop };
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  await stop();
  throw new Error(`HTTPS app server on ${ORIGIN} did not start:\n${output}`);
}

/**
 * A person: a browser context of their own that accepts the self-signed certificate and lets
 * the page use the clipboard. It records what the page hands to `navigator.clipboard.writeText`
 * (and the browser took), to tell the clipboard API apart from the `execCommand` fallback.
 */
async function person(browser: Browser): Promise<Page> {
  const context = await browser.newContext({
    ignoreHTTPSErrors: true,
    permissions: ['clipboard-read', 'clipboard-write'],
  });
  await context.addInitScript(() => {
    const written: string[] = [];
    Reflect.set(window, 'clipboardWrites', written);
    const clipboard = window.navigator.clipboard as Clipboard | undefined;
    if (!clipboard) return; // no secure context: the test's own assertion says so
    const writeText = clipboard.writeText.bind(clipboard);
    clipboard.writeText = async (text: string) => {
      await writeText(text);
      written.push(text);
    };
  });
  contexts.push(context);
  return context.newPage();
}

/** The contexts {@link person} opened; closed after each test. */
const contexts: BrowserContext[] = [];
let dir: string;
let app: { stop(): Promise<void> };

test.beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'https-e2e-'));
  app = await startHttpsApp(makeCertificate(dir));
});

test.afterEach(async () => {
  for (const context of contexts.splice(0)) await context.close();
});

test.afterAll(async () => {
  await app?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('over HTTPS, two people chat and Copy link uses the clipboard API', async ({ browser }) => {
  const alice = await person(browser);
  const bob = await person(browser);
  const sockets: string[] = [];
  for (const page of [alice, bob]) page.on('websocket', (socket) => sockets.push(socket.url()));

  await alice.goto(`${ORIGIN}/`);
  expect(await alice.evaluate(() => window.isSecureContext)).toBe(true);
  await alice.getByRole('button', { name: 'Create room' }).click();
  const link = await alice.getByRole('textbox', { name: 'Room link' }).inputValue();
  expect(link).toMatch(new RegExp(`^${ORIGIN.replaceAll('.', '\\.')}/r/[A-Za-z0-9_-]{22}$`));

  await alice.getByRole('button', { name: 'Copy link' }).click();
  await expect(alice.getByText('Link copied.')).toBeVisible();
  expect(await alice.evaluate(() => Reflect.get(window, 'clipboardWrites'))).toEqual([link]);
  expect(await alice.evaluate(() => navigator.clipboard.readText())).toBe(link);

  await setName(alice, 'Alice');
  await bob.goto(link);
  expect(await bob.evaluate(() => window.isSecureContext)).toBe(true);
  await setName(bob, 'Bob');
  await expect(alice.getByRole('status')).toHaveText(/Connected/);
  await expect(bob.getByRole('status')).toHaveText(/Connected/);

  await alice.getByRole('textbox', { name: 'Message' }).fill('hi bob, over https');
  await alice.getByRole('button', { name: 'Send', exact: true }).click();
  await expect(bob.getByRole('list', { name: 'Messages' })).toContainText('hi bob, over https');
  await bob.getByRole('textbox', { name: 'Message' }).fill('hello alice');
  await bob.getByRole('button', { name: 'Send', exact: true }).click();
  await expect(alice.getByRole('list', { name: 'Messages' })).toContainText('hello alice');

  // Signaling went over TLS too: every socket either page opened is wss:// on the same origin.
  expect(sockets.length).toBeGreaterThanOrEqual(2);
  for (const url of sockets) expect(url).toBe(`wss://${HOSTNAME}:${PORT}/ws`);
});
