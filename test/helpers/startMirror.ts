/**
 * A real `hubcache serve` in this process (app + local store + listen on 127.0.0.1 port 0) in
 * front of the test origin, for tests that drive real clients through the mirror.
 */
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { join } from 'node:path';
import { createApp, type App, type CreateAppParams } from '../../src/server/createApp.js';
import { listen, type Listening } from '../../src/server/listen.js';
import { createLocalStore } from '../../src/store/localStore.js';
import type { BlobStore } from '../../src/store/blobStore.js';
import { makeTempDir } from './tempDir.js';

export interface Mirror {
  url: string;
  cacheDir: string;
  app: App;
  store: BlobStore;
  server: Listening;
  close(): Promise<void>;
}

export async function startMirror(
  params: { upstream: string; cacheDir?: string; graceMs?: number; stallTimeoutMs?: number } & Partial<Omit<CreateAppParams, 'store' | 'upstream'>>,
): Promise<Mirror> {
  const cacheDir = params.cacheDir ?? join(await makeTempDir({ prefix: 'hubcache-mirror-' }), 'hub');
  let app: App | undefined;
  const store = createLocalStore({
    cacheDir,
    onUpstreamBytes: (bytes) => {
      if (app) app.metrics.upstreamBytes += bytes;
    },
    ...(params.stallTimeoutMs !== undefined ? { stallTimeoutMs: params.stallTimeoutMs } : {}),
  });
  const { cacheDir: _c, graceMs, stallTimeoutMs: _s, ...appParams } = params;
  app = createApp({ ...appParams, store, upstream: params.upstream });
  const server = await listen({ app, host: '127.0.0.1', port: 0, graceMs: graceMs ?? 2_000, onClose: () => store.close() });
  return { url: server.url, cacheDir, app, store, server, close: () => server.close() };
}

/** GETs a URL fully; resolves with status, headers and body (or the error of a cut transfer). */
export async function fetchAll(url: string, init: RequestInit = {}): Promise<{ status: number; headers: Headers; body: Buffer }> {
  const res = await fetch(url, { ...init, redirect: 'manual' });
  const body = Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, body };
}

export interface HashedGetResult {
  status: number;
  bytes: number;
  /** sha256 of the whole body; '' when the transfer was cut. */
  sha256: string;
  /** The connection broke before the announced body was complete (or could not be made). */
  cut: boolean;
}

/** GET, with an optional byte range, hashing the body as it streams; `onData` sees progress. */
export function hashedGet(params: { url: string; range?: [number, number?]; onData?: (bytes: number) => void }): Promise<HashedGetResult> {
  return new Promise((resolve) => {
    const headers: Record<string, string> = {};
    if (params.range) headers.range = `bytes=${params.range[0]}-${params.range[1] ?? ''}`;
    const req = request(params.url, { headers }, (res) => {
      const hash = createHash('sha256');
      let bytes = 0;
      let done = false;
      const finish = (cut: boolean): void => {
        if (done) return;
        done = true;
        resolve({ status: res.statusCode ?? 0, bytes, sha256: cut ? '' : hash.digest('hex'), cut });
      };
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.byteLength;
        hash.update(chunk);
        params.onData?.(bytes);
      });
      res.on('end', () => finish(!res.complete));
      res.on('error', () => finish(true));
      res.on('close', () => finish(!res.complete));
    });
    req.on('error', () => resolve({ status: 0, bytes: 0, sha256: '', cut: true }));
    req.end();
  });
}
