import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createOrigin, type Origin } from '../helpers/origin/createOrigin.js';
import { linearRepo } from '../helpers/origin/fixture.js';
import type { PreparedFile } from '../helpers/origin/prepareFixture.js';

const MiB = 1024 * 1024;

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

describe('fault injection and stats', () => {
  let origin: Origin;
  let weights: PreparedFile;
  let weightsBytes: Buffer;
  let config: PreparedFile;
  const weightsUrl = () => `${origin.url}/org/model/resolve/main/model.safetensors`;
  const configUrl = () => `${origin.url}/org/model/resolve/main/config.json`;

  beforeAll(async () => {
    origin = await createOrigin({
      fixture: {
        repos: [
          linearRepo({
            repoId: 'org/model',
            commits: [
              {
                files: [
                  { path: 'model.safetensors', source: { size: 2 * MiB, seed: 'faults-test' } },
                  { path: 'config.json', source: '{"hidden": 64, "layers": 2, "padding": "........................"}\n' },
                ],
              },
            ],
          }),
        ],
      },
    });
    weights = origin.file({ repoId: 'org/model', path: 'model.safetensors' });
    weightsBytes = await readFile((weights.blob.body as { path: string }).path);
    config = origin.file({ repoId: 'org/model', path: 'config.json' });
  });
  afterAll(async () => {
    await origin.close();
  });
  afterEach(() => {
    origin.faults.clear();
    origin.stats.reset();
  });

  it('counts requests per route and body bytes per blob', async () => {
    await fetch(weightsUrl(), { method: 'HEAD', redirect: 'manual' });
    await (await fetch(weightsUrl())).arrayBuffer();
    await (await fetch(configUrl())).arrayBuffer();
    await (await fetch(`${origin.url}/api/models/org/model`)).json();
    expect(origin.stats.requests).toEqual({ head: 1, getResolve: 2, cdn: 1, api: 1, unknown: 0 });
    expect(origin.stats.bytesByBlob.get(weights.etag)).toBe(2 * MiB);
    expect(origin.stats.bytesByBlob.get(config.etag)).toBe(config.blob.size);
    expect(origin.stats.bodyBytes).toBe(2 * MiB + config.blob.size);
    expect(origin.stats.log.map((e) => `${e.method} ${e.route} ${e.status}`)).toEqual([
      'HEAD head 302',
      'GET getResolve 302',
      'GET cdn 200',
      'GET getResolve 200',
      'GET api 200',
    ]);
    origin.stats.reset();
    expect(origin.stats.requests.cdn).toBe(0);
    expect(origin.stats.bodyBytes).toBe(0);
    expect(origin.stats.log).toEqual([]);
  });

  it('reset: the connection dies after N bytes, once; the client can resume from there', async () => {
    const fault = origin.faults.add({ match: { path: 'model.safetensors' }, kind: 'reset', afterBytes: 100_000 });
    const res = await fetch(weightsUrl());
    expect(res.status).toBe(200);
    await expect(res.arrayBuffer()).rejects.toThrow();
    expect(fault.hits).toBe(1);
    expect(fault.remaining).toBe(0);
    expect(origin.stats.bytesByBlob.get(weights.etag)).toBe(100_000);

    const rest = await fetch(weightsUrl(), { headers: { Range: 'bytes=100000-' } });
    expect(rest.status).toBe(206);
    // Buffer.equals: toEqual compares byte by byte and takes seconds on MiBs.
    expect(Buffer.from(await rest.arrayBuffer()).equals(weightsBytes.subarray(100_000))).toBe(true);
  });

  it('reset at byte 0 still sends the status line and headers first', async () => {
    origin.faults.add({ match: { route: 'cdn' }, kind: 'reset', afterBytes: 0 });
    const res = await fetch(weightsUrl());
    expect(res.headers.get('content-length')).toBe(String(2 * MiB));
    await expect(res.arrayBuffer()).rejects.toThrow();
  });

  it('status: 503 with Retry-After for `times` requests, HEAD included, then normal', async () => {
    origin.faults.add({ match: { path: 'config.json' }, kind: 'status', status: 503, retryAfter: 2, times: 2 });
    const first = await fetch(configUrl(), { method: 'HEAD' });
    expect(first.status).toBe(503);
    expect(first.headers.get('retry-after')).toBe('2');
    const second = await fetch(configUrl());
    expect(second.status).toBe(503);
    expect(((await second.json()) as { error: string }).error).toBeTruthy();
    expect((await fetch(configUrl())).status).toBe(200);
    expect(origin.faults.active).toEqual([]);
  });

  it('status faults can target the API or the CDN only', async () => {
    origin.faults.add({ match: { route: 'api' }, kind: 'status', status: 500 });
    origin.faults.add({ match: { route: 'cdn' }, kind: 'status', status: 429, retryAfter: 1 });
    expect((await fetch(`${origin.url}/api/models/org/model`)).status).toBe(500);
    const viaCdn = await fetch(weightsUrl());
    expect(viaCdn.status).toBe(429);
    expect(viaCdn.headers.get('retry-after')).toBe('1');
  });

  it('truncate: a clean close before Content-Length is reached', async () => {
    origin.faults.add({ match: { etag: weights.etag }, kind: 'truncate', afterBytes: 5000 });
    const res = await fetch(weightsUrl());
    expect(res.headers.get('content-length')).toBe(String(2 * MiB));
    await expect(res.arrayBuffer()).rejects.toThrow();
    expect(origin.stats.bytesByBlob.get(weights.etag)).toBe(5000);
  });

  it('corrupt: same length, one byte flipped at the given offset', async () => {
    origin.faults.add({ match: { etag: `"${weights.blob.gitSha1}"` }, kind: 'corrupt', afterBytes: 1234 });
    const body = Buffer.from(await (await fetch(weightsUrl())).arrayBuffer());
    expect(body.byteLength).toBe(weightsBytes.byteLength);
    expect(sha256(body)).not.toBe(weights.blob.sha256);
    expect(body[1234]).toBe(weightsBytes[1234]! ^ 0xff);
    body[1234] = weightsBytes[1234]!;
    expect(body.equals(weightsBytes)).toBe(true);
    // The fixture's own bytes are untouched.
    const again = Buffer.from(await (await fetch(weightsUrl())).arrayBuffer());
    expect(sha256(again)).toBe(weights.blob.sha256);
  });

  it('corrupt works on in-memory regular files too, without mutating them', async () => {
    origin.faults.add({ match: { path: 'config.json' }, kind: 'corrupt', afterBytes: 0 });
    const bad = await (await fetch(configUrl())).text();
    const good = await (await fetch(configUrl())).text();
    expect(bad.slice(1)).toBe(good.slice(1));
    expect(bad[0]).not.toBe(good[0]);
  });

  it('stall: a pause of N ms mid-body, then the rest', async () => {
    origin.faults.add({ match: { path: 'model.safetensors' }, kind: 'stall', afterBytes: 1000, ms: 400 });
    const started = Date.now();
    const body = Buffer.from(await (await fetch(weightsUrl())).arrayBuffer());
    expect(Date.now() - started).toBeGreaterThanOrEqual(350);
    expect(body.equals(weightsBytes)).toBe(true);
  });

  it('stall forever: the client times out; the origin keeps serving and still closes', async () => {
    origin.faults.add({ match: { path: 'config.json' }, kind: 'stall', afterBytes: 10 });
    const res = await fetch(configUrl(), { signal: AbortSignal.timeout(300) });
    await expect(res.text()).rejects.toThrow();
    expect((await fetch(configUrl())).status).toBe(200);
  });

  it('trickle: about bytesPerSecond', async () => {
    origin.faults.add({ match: { path: 'config.json' }, kind: 'trickle', bytesPerSecond: 100 });
    const started = Date.now();
    const text = await (await fetch(configUrl())).text();
    const elapsed = Date.now() - started;
    expect(text.length).toBe(config.blob.size);
    // ~66 bytes at 100 B/s: about 0.66 s.
    expect(elapsed).toBeGreaterThanOrEqual(500);
    expect(elapsed).toBeLessThan(3000);
  });

  it('ignoreRange: 200 with the whole body to a Range request', async () => {
    origin.faults.add({ match: { path: 'model.safetensors' }, kind: 'ignoreRange' });
    const res = await fetch(weightsUrl(), { headers: { Range: 'bytes=1000-' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-range')).toBeNull();
    expect((await res.arrayBuffer()).byteLength).toBe(2 * MiB);
    const next = await fetch(weightsUrl(), { headers: { Range: 'bytes=1000-' } });
    expect(next.status).toBe(206);
    await next.arrayBuffer();
  });

  it('body faults wait for a body: HEAD and the LFS redirect do not use them up', async () => {
    const fault = origin.faults.add({ match: { path: 'model.safetensors' }, kind: 'truncate', afterBytes: 10 });
    await fetch(weightsUrl(), { method: 'HEAD', redirect: 'manual' });
    await fetch(weightsUrl(), { redirect: 'manual' });
    expect(fault.hits).toBe(0);
    const res = await fetch(weightsUrl());
    await expect(res.arrayBuffer()).rejects.toThrow();
    expect(fault.hits).toBe(1);
  });

  it('matching: other paths are unaffected; times and remove() bound a fault', async () => {
    const fault = origin.faults.add({ match: { path: 'config.json' }, kind: 'status', status: 500, times: Infinity });
    expect((await fetch(weightsUrl(), { method: 'HEAD', redirect: 'manual' })).status).toBe(302);
    expect((await fetch(configUrl())).status).toBe(500);
    expect((await fetch(configUrl())).status).toBe(500);
    expect(fault.hits).toBe(2);
    fault.remove();
    expect((await fetch(configUrl())).status).toBe(200);
  });

  it('maxInFlight sees concurrent requests', async () => {
    origin.faults.add({ match: { path: 'config.json' }, kind: 'stall', afterBytes: 0, ms: 200, times: 3 });
    await Promise.all([1, 2, 3].map(async () => (await fetch(configUrl())).text()));
    expect(origin.stats.maxInFlight).toBe(3);
  });
});
