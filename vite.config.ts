import { svelte } from '@sveltejs/vite-plugin-svelte';
import { nodePolyfills } from 'vite-plugin-node-polyfills';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/**
 * One config for the page build (root `web/`, output `dist/web`, served by `signaling/server.ts`)
 * and for vitest (unit tests next to the code they test; Playwright specs in `e2e/` stay out).
 */
export default defineConfig({
  root: 'web',
  // simple-peer (through readable-stream) expects Node's `events`, `process` and `global`.
  plugins: [
    svelte({ configFile: fileURLToPath(new URL('svelte.config.js', import.meta.url)) }),
    // For the page only: under vitest the shims would replace Node's own `process` in tests.
    ...(process.env.VITEST
      ? []
      : [
          nodePolyfills({
            include: ['events', 'process'],
            globals: { global: true, process: true, Buffer: false },
          }),
        ]),
  ],
  build: { outDir: '../dist/web', emptyOutDir: true, target: 'es2022' },
  server: {
    // `npm run dev`: the page on Vite, signaling on `npm start`'s port.
    proxy: { '/ws': { target: 'ws://127.0.0.1:8080', ws: true } },
  },
  test: {
    root: '.',
    include: ['signaling/**/*.test.ts', 'web/src/**/*.test.ts'],
    environment: 'node',
  },
});
