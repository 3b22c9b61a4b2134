import { svelte } from '@sveltejs/vite-plugin-svelte';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompress, constants as zlib, gzip } from 'node:zlib';
import { promisify } from 'node:util';
import type { Plugin } from 'vite';
import { nodePolyfills } from 'vite-plugin-node-polyfills';
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

/** Smallest file the build writes compressed copies of, bytes: below it they save next to nothing. */
const MIN_PRECOMPRESS_BYTES = 1024;

/**
 * Writes `<file>.br` and `<file>.gz` next to every JS, CSS, HTML and SVG file of the build, at the
 * highest levels, for signaling/static-files.ts to send as they are: the page is compressed once
 * here, never per request.
 */
function precompress(): Plugin {
  const br = promisify(brotliCompress);
  const gz = promisify(gzip);
  return {
    name: 'holepunch:precompress',
    apply: 'build',
    async writeBundle({ dir }, bundle) {
      if (!dir) return;
      const files = Object.keys(bundle).filter((name) => /\.(js|css|html|svg)$/.test(name));
      await Promise.all(
        files.map(async (name) => {
          const path = join(dir, name);
          const content = await readFile(path);
          if (content.length < MIN_PRECOMPRESS_BYTES) return;
          await Promise.all([
            writeFile(`${path}.gz`, await gz(content, { level: zlib.Z_BEST_COMPRESSION })),
            writeFile(
              `${path}.br`,
              await br(content, {
                params: {
                  [zlib.BROTLI_PARAM_QUALITY]: zlib.BROTLI_MAX_QUALITY,
                  [zlib.BROTLI_PARAM_SIZE_HINT]: content.length,
                },
              }),
            ),
          ]);
        }),
      );
    },
  };
}

/**
 * Builds web/src/connect.ts as an entry of its own and puts it first in index.html, `async`:
 * Vite would merge a module script written in the page into the app's entry, which is the point
 * of it not to be (it opens a room link's signaling socket while the app's script loads; see
 * lib/signaling/early-socket.ts).
 */
function earlyConnectScript(): Plugin {
  const entry = 'connect';
  return {
    name: 'holepunch:early-connect-script',
    apply: 'build',
    config: () => ({
      build: {
        rolldownOptions: {
          input: {
            index: fileURLToPath(new URL('web/index.html', import.meta.url)),
            [entry]: fileURLToPath(new URL('web/src/connect.ts', import.meta.url)),
          },
        },
      },
    }),
    transformIndexHtml: {
      order: 'post',
      handler(html, { bundle }) {
        const chunk = Object.values(bundle ?? {}).find(
          (output) => output.type === 'chunk' && output.isEntry && output.name === entry,
        );
        const first = html.indexOf('<script');
        if (!chunk || first < 0) throw new Error(`no ${entry} chunk or no script in the build`);
        // Before the app's script, so that the browser asks for it first.
        const tag = `<script type="module" async crossorigin src="/${chunk.fileName}"></script>`;
        return `${html.slice(0, first)}${tag}\n    ${html.slice(first)}`;
      },
    },
  };
}

export default defineConfig({
  root: 'web',
  plugins: [
    svelte({ configFile: fileURLToPath(new URL('svelte.config.js', import.meta.url)) }),
    // For the page only: under vitest the shims would replace Node's own `process` in tests.
    ...(process.env.VITEST ? [] : [simplePeerPolyfills()]),
    earlyConnectScript(),
    precompress(),
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
