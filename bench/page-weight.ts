/**
 * Benchmark 4: page weight, the gzip size of the built JS and CSS, from a fresh `vite build` of the
 * app (the root vite.config.ts) into a directory of our own, so a concurrent build of dist/web
 * neither disturbs nor is disturbed. For the breakdown, simple-peer with the Node polyfills it
 * needs is also bundled alone, and the app once more with simple-peer stubbed out.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'vite';
import { simplePeerPolyfills } from '../vite.config.ts';

/**
 * The goal: the JS and CSS a page loads before the room is up, gzipped, bytes (60 kB, kB = 1000
 * bytes; issue #13: what `index.html` loads, not the chunks fetched after it, e.g. the panel).
 */
export const PAGE_BUDGET_BYTES = 60 * 1000;

export interface Asset {
  file: string;
  bytes: number;
  gzipBytes: number;
}

export interface PageWeightResult {
  assets: Asset[];
  jsGzipBytes: number;
  cssGzipBytes: number;
  totalGzipBytes: number;
  /** What `index.html` loads itself (scripts, stylesheets, module preloads), gzipped. */
  initialGzipBytes: number;
  /** Those files, as `assets` names them. */
  initialFiles: string[];
  /** simple-peer and its polyfills bundled alone, gzipped. */
  simplePeerGzipBytes: number;
  /** The app built with simple-peer replaced by an empty stub, JS + CSS gzipped: our own code. */
  withoutSimplePeerGzipBytes: number;
}

/** gzip at zlib's default level (6), what most servers and CDNs use. */
function gzipBytes(content: Buffer | string): number {
  return gzipSync(content).length;
}

/** Every .js and .css file under `dir`, recursively, with raw and gzip sizes. */
function assetsIn(dir: string, prefix = ''): Asset[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return assetsIn(path, `${prefix}${entry.name}/`);
    if (!/\.(js|css)$/.test(entry.name)) return [];
    const content = readFileSync(path);
    return [{ file: prefix + entry.name, bytes: content.length, gzipBytes: gzipBytes(content) }];
  });
}

/**
 * Builds the app into `outDir` (created by the caller; emptied first). `stubSimplePeer` swaps
 * simple-peer for bench/browser/simple-peer-stub.ts, for the breakdown only.
 */
export async function buildApp(outDir: string, stubSimplePeer = false): Promise<void> {
  const stub = fileURLToPath(new URL('browser/simple-peer-stub.ts', import.meta.url));
  await build({
    configFile: fileURLToPath(new URL('../vite.config.ts', import.meta.url)),
    logLevel: 'warn',
    build: { outDir, emptyOutDir: true },
    ...(stubSimplePeer ? { resolve: { alias: { '@thaunknown/simple-peer/lite.js': stub } } } : {}),
  });
}

/** Gzip size of simple-peer bundled alone, with the app's polyfill settings. */
async function simplePeerAloneGzipBytes(): Promise<number> {
  const outDir = mkdtempSync(join(tmpdir(), 'bench-simple-peer-'));
  try {
    await build({
      configFile: false,
      logLevel: 'warn',
      plugins: [simplePeerPolyfills()],
      build: {
        outDir,
        emptyOutDir: true,
        target: 'es2022',
        minify: true,
        // IIFE, because Vite leaves an ES library's whitespace in for the app's own minifier.
        lib: {
          entry: fileURLToPath(new URL('browser/simple-peer-alone.ts', import.meta.url)),
          formats: ['iife'],
          name: 'SimplePeerAlone',
          fileName: 'simple-peer',
        },
      },
    });
    return assetsIn(outDir).reduce((sum, asset) => sum + asset.gzipBytes, 0);
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
}

/** The .js and .css files `index.html` in `outDir` refers to (`src`/`href` attributes). */
function initialFilesOf(outDir: string): string[] {
  const html = readFileSync(join(outDir, 'index.html'), 'utf8');
  const refs = [...html.matchAll(/(?:src|href)="\/?([^"]+\.(?:js|css))"/g)].map((m) => m[1]!);
  return [...new Set(refs)];
}

/** Measures the app already built in `outDir` (see {@link buildApp}). */
export async function benchPageWeight(outDir: string): Promise<PageWeightResult> {
  const assets = assetsIn(outDir).sort((a, b) => b.gzipBytes - a.gzipBytes);
  const initialFiles = initialFilesOf(outDir);
  const initialGzipBytes = assets
    .filter((a) => initialFiles.includes(a.file))
    .reduce((total, a) => total + a.gzipBytes, 0);
  const sum = (pattern: RegExp): number =>
    assets.filter((a) => pattern.test(a.file)).reduce((total, a) => total + a.gzipBytes, 0);
  const jsGzipBytes = sum(/\.js$/);
  const cssGzipBytes = sum(/\.css$/);
  const stubbedDir = mkdtempSync(join(tmpdir(), 'bench-app-stubbed-'));
  try {
    await buildApp(stubbedDir, true);
    return {
      assets,
      jsGzipBytes,
      cssGzipBytes,
      totalGzipBytes: jsGzipBytes + cssGzipBytes,
      initialGzipBytes,
      initialFiles,
      simplePeerGzipBytes: await simplePeerAloneGzipBytes(),
      withoutSimplePeerGzipBytes: assetsIn(stubbedDir).reduce((total, a) => total + a.gzipBytes, 0),
    };
  } finally {
    rmSync(stubbedDir, { recursive: true, force: true });
  }
}
