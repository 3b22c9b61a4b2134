import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import { simplePeerPolyfills } from '../../vite.config.ts';

/**
 * The throughput harness page (bench/browser/harness.ts), bundled the way the app bundles
 * PeerLink: the same Node shims simple-peer needs (`events`; see the root vite.config.ts). The runner
 * passes `build.outDir`.
 */
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  logLevel: 'warn',
  plugins: [simplePeerPolyfills()],
  build: { target: 'es2022', emptyOutDir: true },
});
