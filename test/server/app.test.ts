/**
 * The app without a socket (createApp.handle answers a request as data), and the listen step's
 * limits: a client that stops reading is dropped after the idle timeout, and one waiting on a
 * long answer the app marks as server work (whileServerWorks) is not.
 */
import { connect } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/server/createApp.js';
import { listen } from '../../src/server/listen.js';
import type { AppRequest, Reply } from '../../src/server/reply.js';
import { createLocalStore } from '../../src/store/localStore.js';
import { createOrigin, type Origin } from '../helpers/origin/createOrigin.js';
import { linearRepo } from '../helpers/origin/fixture.js';
import { startMirror } from '../helpers/startMirror.js';
import { makeTempDir } from '../helpers/tempDir.js';

const MiB = 1024 * 1024;
let origin: Origin;
let app: App;

beforeAll(async () => {
  origin = await createOrigin({
    fixture: { repos: [linearRepo({ repoId: 'acme/app', commits: [{ files: [{ path: 'w.bin', source: { size: 24 * MiB, seed: 'app-w' } }, { path: 'c.json', source: '{"x":1}' }] }] })] },
  });
  const cacheDir = join(await makeTempDir(), 'hub');
  app = createApp({ store: createLocalStore({ cacheDir }), upstream: origin.url });
});
afterAll(async () => {
  await app?.context.store.close();
  await origin?.close();
});

function request(params: { method?: string; url: string; headers?: Record<string, string> }): AppRequest {
  return {
    method: params.method ?? 'GET',
    rawUrl: params.url,
    headers: params.headers ?? {},
    signal: new AbortController().signal,
    readBody: async () => Buffer.alloc(0),
  };
}

async function bodyOf(reply: Reply): Promise<Buffer> {
  if (reply.body.kind === 'empty') return Buffer.alloc(0);
  if (reply.body.kind === 'bytes') return reply.body.data;
  const chunks: Buffer[] = [];
  const stream = reply.body.kind === 'stream' ? reply.body.stream : reply.body.reader.stream({ start: reply.body.start, end: reply.body.end });
  for await (const chunk of stream as Readable) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe('the app answers requests as data, no socket', () => {
  it('healthz, metrics, 400 and 404 with the Hub error shape', async () => {
    expect((await app.handle(request({ url: '/healthz' }))).status).toBe(200);
    const metrics = await app.handle(request({ url: '/metrics' }));
    expect((await bodyOf(metrics)).toString()).toContain('# TYPE hubcache_http_requests_total counter');
    const bad = await app.handle(request({ url: '/acme/app/resolve/main/..%2Fx' }));
    expect(bad.status).toBe(400);
    expect(JSON.parse((await bodyOf(bad)).toString()).error).toMatch(/\.\./);
    expect((await app.handle(request({ url: '/nothing' }))).status).toBe(404);
    expect((await app.handle(request({ method: 'POST', url: '/acme/app/resolve/main/c.json' }))).status).toBe(405);
  });

  it('ranges: bytes=0-0 is 206 with Content-Range 0-0/N, a range past the end is 416, a suffix range works', async () => {
    const size = 24 * MiB;
    const whole = await app.handle(request({ url: '/acme/app/resolve/main/w.bin' }));
    expect(whole.status).toBe(200);
    expect((await bodyOf(whole)).byteLength).toBe(size);
    const first = await app.handle(request({ url: '/acme/app/resolve/main/w.bin', headers: { range: 'bytes=0-0' } }));
    expect(first.status).toBe(206);
    expect(first.headers['content-range']).toBe(`bytes 0-0/${size}`);
    expect(first.headers.etag).toMatch(/^"[0-9a-f]{64}"$/);
    expect((await bodyOf(first)).byteLength).toBe(1);
    const past = await app.handle(request({ url: '/acme/app/resolve/main/w.bin', headers: { range: `bytes=${size}-` } }));
    expect(past.status).toBe(416);
    expect(past.headers['content-range']).toBe(`bytes */${size}`);
    const suffix = await app.handle(request({ url: '/acme/app/resolve/main/w.bin', headers: { range: 'bytes=-10' } }));
    expect(suffix.headers['content-range']).toBe(`bytes ${size - 10}-${size - 1}/${size}`);
    const head = await app.handle(request({ method: 'HEAD', url: '/acme/app/resolve/main/c.json' }));
    expect(head.headers['content-length']).toBe('7');
    expect(head.headers['x-repo-commit']).toMatch(/^[0-9a-f]{40}$/);
    expect(head.headers['accept-ranges']).toBe('bytes');
  });
});

describe('listen limits', () => {
  it('drops a client that stops reading after the idle timeout (memory and sockets are not held forever)', async () => {
    const mirror = await startMirror({ upstream: origin.url });
    try {
      // Warm the cache so the answer is a plain file read (before the short timeout: a cold fill's
      // first byte can take longer than 500 ms on a loaded machine).
      await (await fetch(`${mirror.url}/acme/app/resolve/main/w.bin`)).arrayBuffer();
      mirror.server.server.timeout = 500;
      const { port } = new URL(mirror.url);
      // Watched from the server's side: a paused client socket would not even notice the reset.
      const closed = new Promise<boolean>((resolve) => {
        mirror.server.server.once('connection', (serverSide) => serverSide.once('close', () => resolve(true)));
        setTimeout(() => resolve(false), 10_000).unref();
      });
      const socket = connect(Number(port), '127.0.0.1', () => {
        socket.write('GET /acme/app/resolve/main/w.bin HTTP/1.1\r\nHost: x\r\n\r\n');
        // Read nothing: the server's send buffer fills and it must give up on us.
        socket.pause();
      });
      socket.on('error', () => undefined);
      expect(await closed).toBe(true);
      socket.destroy();
    } finally {
      await mirror.close();
    }
  });

  it('keeps a connection whose answer takes longer than the idle timeout while the app works on it (whileServerWorks)', async () => {
    const slowWork = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 1_200));
    const done: Reply = { status: 200, headers: { 'content-length': '4' }, body: { kind: 'bytes', data: Buffer.from('done') } };
    const slowApp: App = {
      metrics: app.metrics,
      context: app.context,
      async handle(req) {
        if (req.rawUrl === '/marked') await (req.whileServerWorks ? req.whileServerWorks(slowWork) : Promise.reject(new Error('listen gives whileServerWorks')));
        else await slowWork();
        return done;
      },
    };
    const server = await listen({ app: slowApp, host: '127.0.0.1', port: 0, idleTimeoutMs: 300, graceMs: 100 });
    try {
      const marked = await fetch(`${server.url}/marked`);
      expect(marked.status).toBe(200);
      expect(await marked.text()).toBe('done');
      // The same wait not marked as server work: the idle timeout cuts it (the limit still holds).
      await expect(fetch(`${server.url}/unmarked`).then((res) => res.text())).rejects.toThrow();
    } finally {
      await server.close();
    }
  });
});
