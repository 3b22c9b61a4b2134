import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ASSET_CACHE_CONTROL,
  PAGE_CACHE_CONTROL,
  serveStaticFiles,
  type StaticHandler,
} from './static-files.ts';

const HTML = '<!doctype html><title>chat</title><script src="/assets/index-abc.js"></script>';
const SCRIPT = `console.log(${JSON.stringify('x'.repeat(4096))});`;

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** GET `path` with `headers`; the body as received (not decoded). */
function get(base: string, path: string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

describe('serveStaticFiles', () => {
  let dir: string;
  let server: Server;
  let base: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'static-files-'));
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), HTML);
    writeFileSync(join(dir, 'assets', 'index-abc.js'), SCRIPT);
    writeFileSync(join(dir, 'assets', 'index-abc.js.gz'), gzipSync(SCRIPT));
    const handler = serveStaticFiles(dir) as StaticHandler;
    server = createServer((req, res) => handler(req, res, () => res.writeHead(404).end()));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    // Node 20's global agent keeps sockets alive; close() alone would wait for them to time out.
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  it('is null without a built page', () => {
    expect(serveStaticFiles(join(dir, 'missing'))).toBeNull();
  });

  it('serves index.html for room links, revalidated on every load', async () => {
    const page = await get(base, '/r/AAAAAAAAAAAAAAAAAAAAAA');
    expect(page.status).toBe(200);
    expect(page.body.toString()).toBe(HTML);
    expect(page.headers['cache-control']).toBe(PAGE_CACHE_CONTROL);
    expect(page.headers.etag).toBeTruthy();
  });

  it("sends the build's gzip copy of an asset to a browser that takes gzip, cached for good", async () => {
    const script = await get(base, '/assets/index-abc.js', { 'accept-encoding': 'gzip, deflate' });
    expect(script.status).toBe(200);
    expect(script.headers['content-encoding']).toBe('gzip');
    expect(script.headers['content-type']).toMatch(/^text\/javascript/);
    expect(script.headers.vary).toBe('Accept-Encoding');
    expect(script.headers['cache-control']).toBe(ASSET_CACHE_CONTROL);
    expect(gunzipSync(script.body).toString()).toBe(SCRIPT);
  });

  it('sends the asset as it is to a client that takes no encoding', async () => {
    const script = await get(base, '/assets/index-abc.js');
    expect(script.headers['content-encoding']).toBeUndefined();
    expect(script.body.toString()).toBe(SCRIPT);
  });
});
