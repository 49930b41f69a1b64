/**
 * Both body paths of transferBlob, against the origin with faults: the raw
 * socket reader (files of 16 MiB and up, over http and https: the CLI's fault,
 * concurrency and resume tests go through it; its TLS edges are in
 * test/hub/rawHttpGetTls.test.ts) and node:http (small files, and bodies
 * the raw reader hands back). Resuming a partial on both hashing paths. Plus the raw
 * reader's own edges, against hand-written servers: a head split into tiny
 * packets after an interim 103, a chunked body, a redirect to another host.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { createHash } from 'node:crypto';
import { copyFile, open, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOrigin, type Origin } from '../helpers/origin/createOrigin.js';
import { linearRepo } from '../helpers/origin/fixture.js';
import type { Fault } from '../helpers/origin/faults.js';
import { makeTempDir } from '../helpers/tempDir.js';
import { sha256File } from '../helpers/sha256File.js';
import { transferBlob } from '../../src/download/transferBlob.js';
import { rawHttpGet } from '../../src/hub/rawHttpGet.js';

// Big enough for the threaded path (THREADED_MIN_BYTES), so `auto` picks the raw reader.
const SIZE = 20 * 1024 * 1024 + 12_345;
let origin: Origin;

beforeAll(async () => {
  origin = await createOrigin({
    fixture: { repos: [linearRepo({ repoId: 'acme/engines', commits: [{ files: [{ path: 'w.bin', source: { size: SIZE, seed: 'engines' } }] }] })] },
  });
}, 60_000);
afterAll(async () => origin?.close());

async function transfer(params: { engine: 'auto' | 'node'; url?: string; connections?: number; size?: number; etag?: string; onBytes?: (bytes: number) => void }) {
  const dir = await makeTempDir();
  const expected = origin.file({ repoId: 'acme/engines', path: 'w.bin' });
  const partialPath = join(dir, 'blob.incomplete');
  const result = await transferBlob({
    url: params.url ?? `${origin.url}/acme/engines/resolve/main/w.bin`,
    size: params.size ?? SIZE,
    etag: params.etag ?? expected.blob.sha256,
    algorithm: 'sha256',
    partialPath,
    statePath: join(dir, 'blob.state'),
    connections: params.connections ?? 1,
    stallTimeoutMs: 1000,
    retries: 3,
    what: 'download w.bin',
    engine: params.engine,
    ...(params.onBytes ? { onBytes: params.onBytes } : {}),
  });
  return { ...result, partialPath, expected };
}

const faults: Array<{ name: string; fault: Fault | undefined }> = [
  { name: 'none', fault: undefined },
  { name: 'reset mid-body', fault: { kind: 'reset', afterBytes: 3_000_000 } },
  { name: 'short body', fault: { kind: 'truncate', afterBytes: 1_000_000 } },
  { name: 'stall', fault: { kind: 'stall', afterBytes: 2_000_000, ms: 3_000 } },
  { name: '503 then fine', fault: { kind: 'status', status: 503, retryAfter: 0 } },
];

describe.each(['auto', 'node'] as const)('transferBlob with the %s engine (auto: the raw reader here)', (engine) => {
  it.each(faults)('ends with the exact bytes and their digest: $name', async ({ fault }) => {
    if (fault) origin.faults.add({ ...fault, match: { ...(fault.kind === 'status' ? {} : { route: 'cdn' }), path: 'w.bin' }, times: 1 });
    const result = await transfer({ engine });
    expect(result.digest).toBe(result.expected.blob.sha256);
    expect(await sha256File(result.partialPath)).toBe(result.expected.blob.sha256);
  });

  it('keeps a 200 to a Range request on a link that keeps dropping: skips the bytes on disk, never restarts from zero', async () => {
    // Every GET is answered with the whole file, and the first four connections drop further
    // along each time: each retry must go on from what is on disk, not from byte 0.
    const ignore = origin.faults.add({ kind: 'ignoreRange', match: { route: 'cdn', path: 'w.bin' }, times: Infinity });
    for (const afterBytes of [4_000_000, 8_000_000, 12_000_000, 16_000_000]) origin.faults.add({ kind: 'reset', afterBytes, match: { route: 'cdn', path: 'w.bin' }, times: 1 });
    const progress: number[] = [];
    try {
      const result = await transfer({ engine, onBytes: (bytes) => progress.push(bytes) });
      expect(await sha256File(result.partialPath)).toBe(result.expected.blob.sha256);
      expect(result.digest).toBe(result.expected.blob.sha256);
      // Written once: no byte went to the file twice, and progress never went back.
      expect(result.received).toBe(SIZE);
      expect(progress.filter((n) => n < 0)).toEqual([]);
    } finally {
      ignore.remove();
    }
  });

  it('gives up within the retry budget when such a link drops at the same place every time', async () => {
    // A 200 on every request and a drop after 6 MB on every connection: no attempt gets past
    // what is on disk. The old code restarted from zero after each one, without end.
    const ignore = origin.faults.add({ kind: 'ignoreRange', match: { route: 'cdn', path: 'w.bin' }, times: Infinity });
    const drop = origin.faults.add({ kind: 'reset', afterBytes: 6_000_000, match: { route: 'cdn', path: 'w.bin' }, times: 40 });
    origin.stats.reset();
    try {
      const failure = await transfer({ engine }).then(
        () => undefined,
        (err: unknown) => err as { code?: string },
      );
      expect(failure?.code).toBe('E_NETWORK');
      // One attempt that got 6 MB, then retries (3) + 1 that got nothing new.
      expect(drop.hits).toBeLessThanOrEqual(5);
    } finally {
      ignore.remove();
      drop.remove();
    }
  });

  it('with several streams, a whole-file 200 fills each one\'s own segment and no more', async () => {
    const whole = await transfer({ engine: 'auto' });
    const dir = await makeTempDir();
    const partialPath = join(dir, 'partial.incomplete');
    await copyFile(whole.partialPath, partialPath);
    // Two segments, each partly on disk; the gaps are zeroed so only the transfer can fill them.
    const segments = [
      { start: 0, end: 10_000_000, done: 2_000_000 },
      { start: 10_000_000, end: SIZE, done: 1_000_000 },
    ];
    const handle = await open(partialPath, 'r+');
    for (const s of segments) await handle.write(Buffer.alloc(s.end - s.start - s.done), 0, s.end - s.start - s.done, s.start + s.done);
    await handle.close();
    const ignore = origin.faults.add({ kind: 'ignoreRange', match: { route: 'cdn', path: 'w.bin' }, times: Infinity });
    try {
      const result = await transferBlob({
        url: `${origin.url}/acme/engines/resolve/main/w.bin`,
        size: SIZE,
        etag: whole.expected.blob.sha256,
        algorithm: 'sha256',
        partialPath,
        statePath: join(dir, 'state'),
        resume: { segments },
        connections: 2,
        retries: 3,
        what: 'resume w.bin',
        engine,
      });
      expect(result.received).toBe(SIZE - 3_000_000);
      expect(result.digest).toBe(whole.expected.blob.sha256);
      expect(await sha256File(partialPath)).toBe(whole.expected.blob.sha256);
    } finally {
      ignore.remove();
    }
  });

  it('reports a hash that differs when the bytes are wrong (the caller then refuses them)', async () => {
    origin.faults.add({ kind: 'corrupt', afterBytes: 5_000_000, match: { route: 'cdn', path: 'w.bin' }, times: 1 });
    const result = await transfer({ engine });
    expect(result.digest).not.toBe(result.expected.blob.sha256);
    expect(result.digest).toBe(await sha256File(result.partialPath));
  });
});

describe('resuming a partial file', () => {
  it.each([
    { name: 'threaded (ring writer)', size: SIZE },
    { name: 'small (hashed on the main thread)', size: 3 * 1024 * 1024 + 7 },
  ])('$name: hashes the bytes on disk first, then the rest as it arrives', async ({ size }) => {
    const whole = await transfer({ engine: 'auto' });
    // The first `size` bytes of w.bin, as a file of its own, with the first 40% already "on disk".
    const dir = await makeTempDir();
    const full = join(dir, 'full');
    await copyFile(whole.partialPath, full);
    await truncate(full, size);
    const want = await sha256File(full);
    const partialPath = join(dir, 'partial.incomplete');
    await copyFile(full, partialPath);
    const done = Math.floor(size * 0.4);
    await truncate(partialPath, done);
    origin.stats.reset();
    const result = await transferBlob({
      url: `${origin.url}/acme/engines/resolve/main/w.bin`,
      size,
      etag: want,
      algorithm: 'sha256',
      partialPath,
      statePath: join(dir, 'state'),
      resume: { segments: [{ start: 0, end: size, done }] },
      connections: 1,
      what: 'resume w.bin',
    });
    expect(result.resumedFrom).toBe(done);
    expect(result.digest).toBe(want);
    expect(await sha256File(partialPath)).toBe(want);
    expect(origin.stats.log.some((e) => e.range === `bytes=${done}-${size - 1}`)).toBe(true);
  });
});

/** A TCP server that answers each connection with `respond(request, socket)`. */
async function rawServer(respond: (request: string, socket: Socket) => void): Promise<{ url: string; requests: string[]; close(): Promise<void> }> {
  const requests: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let text = '';
    socket.on('data', (data) => {
      text += data.toString('latin1');
      if (!text.includes('\r\n\r\n')) return;
      requests.push(text);
      respond(text, socket);
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

async function sendSlowly(socket: Socket, data: Buffer, pieceBytes: number): Promise<void> {
  for (let i = 0; i < data.length; i += pieceBytes) {
    socket.write(data.subarray(i, i + pieceBytes));
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

describe('the raw reader', () => {
  const body = Buffer.from('hello from a hand-written server, '.repeat(200));
  const digest = createHash('sha256').update(body).digest('hex');
  const transferRaw = async (url: string) => {
    const dir = await makeTempDir();
    return transferBlob({
      url,
      size: body.length,
      etag: digest,
      algorithm: 'sha256',
      partialPath: join(dir, 'p'),
      statePath: join(dir, 's'),
      connections: 1,
      what: 'download file',
      engine: 'raw',
    });
  };

  it('reads a head split into 7-byte packets after an interim 103', async () => {
    const server = await rawServer((_request, socket) => {
      const head = `HTTP/1.1 103 Early Hints\r\nLink: </x>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\nETag: "abc"\r\n\r\n`;
      void sendSlowly(socket, Buffer.concat([Buffer.from(head, 'latin1'), body]), 7).then(() => socket.end());
    });
    try {
      const result = await transferRaw(`${server.url}/file`);
      expect(result.digest).toBe(digest);
    } finally {
      await server.close();
    }
  });

  it('hands a chunked body back, and transferBlob gets it through node:http', async () => {
    const server = await rawServer((_request, socket) => {
      const half = body.length >> 1;
      const chunk = (b: Buffer): string => `${b.length.toString(16)}\r\n${b.toString('latin1')}\r\n`;
      socket.end(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${chunk(body.subarray(0, half))}${chunk(body.subarray(half))}0\r\n\r\n`, 'latin1');
    });
    try {
      const direct = await rawHttpGet({ url: `${server.url}/file`, headers: {}, what: 'probe' });
      expect(direct.response?.contentLength).toBeUndefined();
      direct.response?.close();
      const result = await transferRaw(`${server.url}/file`);
      expect(result.digest).toBe(digest);
      // The probe above, the raw attempt that saw "chunked", then node:http.
      expect(server.requests.length).toBe(3);
    } finally {
      await server.close();
    }
  });

  it('follows a redirect to another host without the token, and keeps it on the same host', async () => {
    const cdn = await rawServer((_request, socket) => {
      socket.end(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`, 'latin1'), body]));
    });
    const hub = await rawServer((request, socket) => {
      const location = request.startsWith('GET /first ') ? '/second' : `${cdn.url}/bytes`;
      socket.end(`HTTP/1.1 302 Found\r\nLocation: ${location}\r\nContent-Length: 0\r\n\r\n`);
    });
    try {
      const got = await rawHttpGet({ url: `${hub.url}/first`, token: 'hf_secret_token', headers: {}, what: 'probe' });
      const response = got.response;
      expect(response?.status).toBe(200);
      const target = Buffer.alloc(body.length);
      let filled = 0;
      await response?.receive({ space: () => target.subarray(filled), commit: (n) => void (filled += n) });
      expect(target.equals(body)).toBe(true);
      expect(hub.requests.map((r) => /authorization: Bearer hf_secret_token/i.test(r))).toEqual([true, true]);
      expect(cdn.requests.some((r) => /authorization/i.test(r))).toBe(false);
    } finally {
      await hub.close();
      await cdn.close();
    }
  });

  it('fails a body that ends early, and one that stalls, as retryable network errors', async () => {
    const server = await rawServer((request, socket) => {
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`);
      socket.write(body.subarray(0, 100));
      if (request.startsWith('GET /short ')) socket.end();
    });
    try {
      for (const path of ['short', 'stall']) {
        const got = await rawHttpGet({ url: `${server.url}/${path}`, headers: {}, bodyTimeoutMs: 300, what: 'probe' });
        const target = Buffer.alloc(body.length);
        let filled = 0;
        const failure = await got.response?.receive({ space: () => target.subarray(filled), commit: (n) => void (filled += n) }).then(
          () => undefined,
          (err: unknown) => err as { code?: string },
        );
        expect(failure?.code, path).toBe(path === 'short' ? 'ERR_STREAM_PREMATURE_CLOSE' : 'HUBCACHE_STALLED');
        expect(filled).toBe(100);
      }
    } finally {
      await server.close();
    }
  });
});
