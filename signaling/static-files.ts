/**
 * The built page (`vite build` into dist/web), served by sirv: room links (`/r/<id>`) get
 * index.html, the app routes itself. Two things make the first visit and every later one cheap:
 *
 * - Compression: the build writes a `.br` and a `.gz` copy next to each text asset (the
 *   `precompress` plugin in vite.config.ts), compressed once at the highest levels; the server
 *   sends the best copy the browser accepts (`Vary: Accept-Encoding`) and never compresses per
 *   request. Chromium asks for `br` only over https, so plain http gets gzip: the first script is
 *   ~58 kB instead of ~172 kB (issue #13).
 * - Caching (RFC 9111 §5.2.2): files under {@link ASSETS_PREFIX} have the hash of their content in
 *   their name, so a browser keeps them for {@link IMMUTABLE_MAX_AGE_S} without asking again;
 *   everything else (index.html, which names the current assets) is revalidated on every load
 *   against its ETag, so a new deployment is picked up at once.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { existsSync } from 'node:fs';
import sirv from 'sirv';

/** Where Vite puts the files whose names carry their content hash. */
export const ASSETS_PREFIX = '/assets/';

/** How long a browser keeps a hashed asset, s (a year, the longest RFC 9111 §5.3 advises). */
export const IMMUTABLE_MAX_AGE_S = 365 * 24 * 60 * 60;

/** `Cache-Control` of hashed assets. */
export const ASSET_CACHE_CONTROL = `public, max-age=${IMMUTABLE_MAX_AGE_S}, immutable`;

/** `Cache-Control` of everything else: kept, but revalidated before each use. */
export const PAGE_CACHE_CONTROL = 'no-cache';

/** Serves one request from the page, or calls `next` when no file matches. */
export type StaticHandler = (req: IncomingMessage, res: ServerResponse, next: () => void) => void;

/**
 * The handler for the page in `dir`, or `null` when there is no such directory (sirv lists the
 * directory when the handler is created and throws if it is missing).
 */
export function serveStaticFiles(dir: string): StaticHandler | null {
  if (!existsSync(dir)) return null;
  return sirv(dir, {
    single: true,
    etag: true,
    gzip: true,
    brotli: true,
    setHeaders: (res, pathname) => {
      res.setHeader(
        'Cache-Control',
        pathname.startsWith(ASSETS_PREFIX) ? ASSET_CACHE_CONTROL : PAGE_CACHE_CONTROL,
      );
    },
  });
}
