import { defineConfig } from '@playwright/test';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './e2e/chromium.ts';

/** Loopback server for the specs that run on 127.0.0.1 (the NAT lab starts its own). */
const PORT = Number(process.env.E2E_PORT ?? 18080);
const STUN_PORT = Number(process.env.E2E_STUN_PORT ?? 13478);

export default defineConfig({
  testDir: 'e2e',
  timeout: 90_000,
  expect: { timeout: 20_000 },
  // The NAT lab owns global state (namespaces, iptables); one test at a time keeps it honest.
  workers: 1,
  forbidOnly: !!process.env.CI,
  reporter: [['list']],
  use: {
    browserName: 'chromium',
    baseURL: `http://127.0.0.1:${PORT}`,
    launchOptions: { executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS },
    trace: 'retain-on-failure',
  },
  webServer: {
    // What `npm start` runs, minus its build: `npm test` builds the page once before e2e.
    command: 'node_modules/.bin/tsx signaling/main.ts',
    url: `http://127.0.0.1:${PORT}/healthz`,
    // Warnings and errors only: the info lines (one per socket) drown the test report.
    env: { HOST: '127.0.0.1', PORT: String(PORT), STUN_PORT: String(STUN_PORT), LOG_LEVEL: 'warn' },
    reuseExistingServer: false,
    stdout: 'pipe',
  },
});
