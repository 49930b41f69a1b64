/**
 * An upstream that misbehaves (a lying HEAD, redirects to nowhere, absurd sizes, trees that leave
 * the host, answers that are not JSON, Xet bodies): the mirror must answer its clients with a clean
 * 5xx, never a complete wrong file, never a truncated listing kept forever, and must leave no blob.
 * The upstream here is a scripted HTTP server on 127.0.0.1 (one handler per test).
 */
import { createHash } from 'node:crypto';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fetchAll, startMirror, type Mirror } from '../helpers/startMirror.js';
import { runCli } from '../helpers/runCli.js';

const COMMIT = 'a'.repeat(40);
type Handler = (req: IncomingMessage, res: ServerResponse) => void;

const servers: Server[] = [];
const mirrors: Mirror[] = [];
afterEach(async () => {
  await Promise.all(mirrors.splice(0).map((m) => m.close()));
  await Promise.all(
    servers.splice(0).map(
      (s) =>
        new Promise<void>((r) => {
          s.close(() => r());
          s.closeAllConnections();
        }),
    ),
  );
});

async function scriptedUpstream(handler: Handler): Promise<string> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  servers.push(server);
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function mirrorOf(upstream: string, extra: { stallTimeoutMs?: number } = {}): Promise<Mirror> {
  const mirror = await startMirror({ upstream, upstreamTimeoutMs: 2_000, ...extra });
  mirrors.push(mirror);
  return mirror;
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A free port nobody listens on. */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/** GET that reports a cut transfer instead of throwing. */
function rawGet(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: IncomingMessage['headers']; body: Buffer; cut: boolean }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      let done = false;
      const finish = (cut: boolean): void => {
        if (done) return;
        done = true;
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), cut });
      };
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => finish(!res.complete));
      res.on('error', () => finish(true));
      res.on('aborted', () => finish(true));
      res.on('close', () => finish(!res.complete));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Committed blobs (a partial `.incomplete` may stay for a later resume; it is never served as a blob). */
async function blobFiles(mirror: Mirror, repoFolder = 'models--acme--m'): Promise<string[]> {
  const names = await readdir(join(mirror.cacheDir, repoFolder, 'blobs')).catch(() => []);
  return names.filter((name) => !name.endsWith('.incomplete'));
}

/** HEAD facts for one file, then `body` as the GET answer. */
function fileUpstream(params: { headSize: number; etag: string; get: (res: ServerResponse) => void; location?: string }): Handler {
  return (req, res) => {
    if (!req.url?.startsWith('/acme/m/resolve/')) {
      res.writeHead(404).end();
      return;
    }
    if (req.method === 'HEAD') {
      res.writeHead(params.location ? 302 : 200, {
        'x-repo-commit': COMMIT,
        'x-linked-etag': `"${params.etag}"`,
        'x-linked-size': String(params.headSize),
        ...(params.location ? { location: params.location } : { 'content-length': String(params.headSize) }),
      });
      res.end();
      return;
    }
    params.get(res);
  };
}

describe('a lying or broken upstream never yields a complete wrong file or a blob', () => {
  it('a GET body shorter than the HEAD size: the client never gets a complete answer, no blob', async () => {
    const real = Buffer.alloc(1000, 7);
    const upstream = await scriptedUpstream(
      fileUpstream({ headSize: 2000, etag: sha256(real), get: (res) => res.writeHead(200, { 'content-length': '1000' }).end(real) }),
    );
    const mirror = await mirrorOf(upstream);
    const got = await rawGet(`${mirror.url}/acme/m/resolve/main/w.bin`);
    // The first 999 bytes may go out while the fill runs; the answer never completes.
    expect(got.status === 200 ? got.cut : got.status >= 500).toBe(true);
    expect(await blobFiles(mirror)).toEqual([]);
    expect(mirror.store.fills()).toEqual([]);
  });

  it('a GET body longer than the HEAD size: no blob, no complete answer', async () => {
    const real = Buffer.alloc(3000, 7);
    const upstream = await scriptedUpstream(
      fileUpstream({ headSize: 2000, etag: sha256(real), get: (res) => res.writeHead(200, { 'content-length': '3000' }).end(real) }),
    );
    const mirror = await mirrorOf(upstream);
    const got = await rawGet(`${mirror.url}/acme/m/resolve/main/w.bin`);
    expect(got.status === 200 ? got.cut : got.status >= 500).toBe(true);
    expect(await blobFiles(mirror)).toEqual([]);
  });

  it('a 302 to a host that is down: the client gets a 502, not a 200 that breaks', async () => {
    const port = await deadPort();
    const upstream = await scriptedUpstream(
      fileUpstream({ headSize: 10, etag: sha256(Buffer.alloc(10)), location: `http://127.0.0.1:${port}/blob`, get: (res) => res.writeHead(500).end() }),
    );
    const mirror = await mirrorOf(upstream);
    const got = await rawGet(`${mirror.url}/acme/m/resolve/main/w.bin`);
    expect(got.status).toBe(502);
    expect(await blobFiles(mirror)).toEqual([]);
    expect(mirror.store.fills()).toEqual([]);
  });

  it('the GET refused (403) after a good HEAD: a 502 to the client (a 4xx would read as "no such file")', async () => {
    const upstream = await scriptedUpstream(fileUpstream({ headSize: 10, etag: sha256(Buffer.alloc(10)), get: (res) => res.writeHead(403).end('no') }));
    const mirror = await mirrorOf(upstream);
    const got = await rawGet(`${mirror.url}/acme/m/resolve/main/w.bin`);
    expect(got.status).toBe(502);
    expect(JSON.parse(got.body.toString()).error).toMatch(/403/);
  });

  it('a GET rate-limited (429) after a good HEAD: the 429 and its Retry-After reach the client', async () => {
    const upstream = await scriptedUpstream(
      fileUpstream({ headSize: 10, etag: sha256(Buffer.alloc(10)), get: (res) => res.writeHead(429, { 'retry-after': '1' }).end('slow down') }),
    );
    const mirror = await mirrorOf(upstream);
    const got = await rawGet(`${mirror.url}/acme/m/resolve/main/w.bin`);
    expect(got.status).toBe(429);
    expect(got.headers['retry-after']).toBe('1');
  }, 120_000);

  it('an absurd size (1 PB): a clean 5xx, no partial left', async () => {
    const upstream = await scriptedUpstream(fileUpstream({ headSize: 1e15, etag: sha256(Buffer.alloc(1)), get: (res) => res.writeHead(200).end('x') }));
    const mirror = await mirrorOf(upstream);
    const got = await rawGet(`${mirror.url}/acme/m/resolve/main/w.bin`);
    expect(got.status).toBe(507);
    expect(await blobFiles(mirror)).toEqual([]);
  });

  it('a redirect loop on the HEAD: 502', async () => {
    const upstream = await scriptedUpstream((req, res) => res.writeHead(307, { location: req.url ?? '/' }).end());
    const mirror = await mirrorOf(upstream);
    const got = await fetchAll(`${mirror.url}/acme/m/resolve/main/w.bin`, { method: 'HEAD' });
    expect(got.status).toBe(502);
  });

  it('a 200 with the Xet file-info content type: never reaches the client as such, no blob', async () => {
    const info = Buffer.from(JSON.stringify({ casUrl: 'https://cas.invalid', hash: 'x'.repeat(64) }));
    const upstream = await scriptedUpstream(
      fileUpstream({
        headSize: 5000,
        etag: sha256(Buffer.alloc(5000)),
        get: (res) => res.writeHead(200, { 'content-type': 'application/vnd.xet-fileinfo+json', 'content-length': String(info.length) }).end(info),
      }),
    );
    const mirror = await mirrorOf(upstream);
    const got = await rawGet(`${mirror.url}/acme/m/resolve/main/w.bin`);
    expect(String(got.headers['content-type'])).not.toMatch(/xet/);
    expect(got.status === 200 ? got.cut : got.status >= 500).toBe(true);
    expect(await blobFiles(mirror)).toEqual([]);
  });

  it('an etag that is not a hash: the bytes cannot be verified, so they never become a blob (502 to HEAD and GET)', async () => {
    const body = Buffer.from('whatever upstream says');
    const upstream = await scriptedUpstream(fileUpstream({ headSize: body.length, etag: '1234-5678abc', get: (res) => res.writeHead(200, { 'content-length': String(body.length) }).end(body) }));
    const mirror = await mirrorOf(upstream);
    expect((await fetchAll(`${mirror.url}/acme/m/resolve/main/w.bin`, { method: 'HEAD' })).status).toBe(502);
    const got = await rawGet(`${mirror.url}/acme/m/resolve/main/w.bin`);
    const verify = await runCli({ args: ['verify', '--cache-dir', mirror.cacheDir, '--json'] });
    expect(got.status).toBe(502);
    expect(await blobFiles(mirror)).toEqual([]);
    expect(verify.code, verify.stdout).toBe(0);
  });

  it('an EntryNotFound whose X-Repo-Commit is not a commit: not passed to clients (they make .no_exist/<it>/ of it)', async () => {
    const upstream = await scriptedUpstream((_req, res) =>
      res.writeHead(404, { 'x-error-code': 'EntryNotFound', 'x-error-message': 'nope', 'x-repo-commit': '../../../../tmp/owned' }).end(),
    );
    const mirror = await mirrorOf(upstream);
    const got = await fetchAll(`${mirror.url}/acme/m/resolve/main/w.bin`, { method: 'HEAD' });
    expect(got.status).toBe(404);
    expect(got.headers.get('x-error-code')).toBe('EntryNotFound');
    expect(got.headers.get('x-repo-commit')).toBeNull();
  });
});

describe('a misbehaving upstream API never leaves a wrong answer cached', () => {
  it('a tree page whose Link names another host: followed on the upstream host (never truncated, never elsewhere)', async () => {
    const seen: string[] = [];
    const upstream = await scriptedUpstream((req, res) => {
      seen.push(req.url ?? '');
      const second = req.url?.includes('cursor=2') ?? false;
      res.writeHead(200, {
        'content-type': 'application/json',
        ...(second ? {} : { link: `<http://127.0.0.2:1/api/models/acme/m/tree/${COMMIT}?recursive=true&cursor=2>; rel="next"` }),
      });
      res.end(JSON.stringify([{ type: 'file', path: second ? 'b.txt' : 'a.txt', size: 1, oid: 'b'.repeat(40) }]));
    });
    const mirror = await mirrorOf(upstream);
    const got = await fetchAll(`${mirror.url}/api/models/acme/m/tree/${COMMIT}?recursive=true`);
    expect(got.status).toBe(200);
    expect((JSON.parse(got.body.toString()) as Array<{ path: string }>).map((e) => e.path)).toEqual(['a.txt', 'b.txt']);
    expect(seen).toHaveLength(2);
  });

  it('a tree that never ends (every page links the next): bounded, 502', async () => {
    let pageCalls = 0;
    const upstream = await scriptedUpstream((req, res) => {
      pageCalls += 1;
      res.writeHead(200, { 'content-type': 'application/json', link: `</api/models/acme/m/tree/${COMMIT}?recursive=true&cursor=${pageCalls}>; rel="next"` });
      res.end(JSON.stringify([{ type: 'file', path: `f${pageCalls}.txt`, size: 1, oid: 'b'.repeat(40) }]));
    });
    const mirror = await mirrorOf(upstream);
    const got = await fetchAll(`${mirror.url}/api/models/acme/m/tree/${COMMIT}?recursive=true`);
    expect(got.status).toBe(502);
    expect(pageCalls).toBeLessThanOrEqual(10_000);
  }, 120_000);

  it('JSON that is not JSON: 502, nothing cached', async () => {
    const upstream = await scriptedUpstream((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"id": "acme/m", "sha": '));
    const mirror = await mirrorOf(upstream);
    const got = await fetchAll(`${mirror.url}/api/models/acme/m/revision/${COMMIT}`);
    expect(got.status).toBe(502);
  });
});
