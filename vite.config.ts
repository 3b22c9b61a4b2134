import { svelte } from '@sveltejs/vite-plugin-svelte';
import { nodePolyfills } from 'vite-plugin-node-polyfills';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/**
 * One config for the page build (root `web/`, output `dist/web`, served by `signaling/server.ts`)
 * and for vitest (unit tests next to the code they test; Playwright specs in `e2e/` stay out).
 */
/**
 * What simple-peer (`@thaunknown/simple-peer`, through `streamx`) needs of Node in a browser:
 * the `events` module, nothing global. One definition for the page and for the bench builds that
 * bundle PeerLink (bench/), so they measure what ships.
 */
export function simplePeerPolyfills() {
  return nodePolyfills({
    include: ['events'],
    globals: { global: false, process: false, Buffer: false },
  });
}

export default defineConfig({
  root: 'web',
  plugins: [
    svelte({ configFile: fileURLToPath(new URL('svelte.config.js', import.meta.url)) }),
    // For the page only: under vitest the shims would replace Node's own `process` in tests.
    ...(process.env.VITEST ? [] : [simplePeerPolyfills()]),
  ],
  build: {
    outDir: '../dist/web',
    emptyOutDir: true,
    target: 'es2022',
    // Chromium and Firefox (115+, so every firefox-esr) support `<link rel="modulepreload">`
    // natively; Vite's polyfill for older browsers would only add bytes to the first script.
    modulePreload: { polyfill: false },
  },
  server: {
    // `npm run dev`: the page on Vite, signaling on `npm start`'s port.
    proxy: { '/ws': { target: 'ws://127.0.0.1:8080', ws: true } },
  },
  test: {
    root: '.',
    include: [
      'common/**/*.test.ts',
      'signaling/**/*.test.ts',
      'web/src/**/*.test.ts',
      'bench/**/*.test.ts',
    ],
    environment: 'node',
  },
});
