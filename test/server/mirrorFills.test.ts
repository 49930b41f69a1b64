/**
 * Cold fills: N clients asking at once for a blob the mirror lacks cause one upstream transfer,
 * each gets the right bytes (whole or ranged) while it fills, and an upstream fault mid-fill
 * never leaves a wrong blob: a fill that fails verification cuts its clients' transfers.
 */
import { createHash } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOrigin, type Origin } from '../helpers/origin/createOrigin.js';
import { linearRepo } from '../helpers/origin/fixture.js';
import { hashedGet, startMirror, type Mirror } from '../helpers/startMirror.js';
import { sha256File } from '../helpers/sha256File.js';

const MiB = 1024 * 1024;
const BIG = 256 * MiB;
let origin: Origin;

beforeAll(async () => {
  origin = await createOrigin({
    fixture: {
      repos: [
        linearRepo({
          repoId: 'acme/big',
          commits: [
            {
              files: [
                { path: 'big.gguf', source: { size: BIG, seed: 'mirror-big' } },
                { path: 'mid-a.bin', source: { size: 24 * MiB, seed: 'mirror-mid-a' } },
                { path: 'mid-b.bin', source: { size: 24 * MiB, seed: 'mirror-mid-b' } },
                { path: 'mid-c.bin', source: { size: 24 * MiB, seed: 'mirror-mid-c' } },
              ],
            },
          ],
        }),
      ],
    },
  });
}, 120_000);
afterAll(async () => origin?.close());

const get = hashedGet;

async function rangeSha256(path: string, start: number, end: number): Promise<string> {
  const { createReadStream } = await import('node:fs');
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { start, end: end - 1 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function blobNames(mirror: Mirror): Promise<string[]> {
  return readdir(join(mirror.cacheDir, 'models--acme--big', 'blobs')).catch(() => []);
}

describe('cold fills', () => {
  it('8 concurrent cold requests (some ranged) for one 256 MiB file: one upstream body transfer, all bytes right', async () => {
    // A long ref TTL: the "no more upstream requests" check below must not depend on how fast this machine is.
    const mirror = await startMirror({ upstream: origin.url, refTtlMs: 3_600_000 });
    try {
      origin.stats.reset();
      const file = origin.file({ repoId: 'acme/big', path: 'big.gguf' });
      const url = `${mirror.url}/acme/big/resolve/main/big.gguf`;
      const ranges: Array<[number, number?] | undefined> = [undefined, undefined, undefined, [0, 0], [100 * MiB], [5 * MiB, 9 * MiB - 1], undefined, [BIG - 10]];
      const results = await Promise.all(ranges.map((range) => get({ url, ...(range ? { range } : {}) })));
      const blob = join(mirror.cacheDir, 'models--acme--big', 'blobs', file.etag);
      expect(await sha256File(blob)).toBe(file.blob.sha256);
      for (const [i, range] of ranges.entries()) {
        const result = results[i]!;
        expect(result.cut, `client ${i}`).toBe(false);
        if (range === undefined) {
          expect(result.status).toBe(200);
          expect(result.sha256).toBe(file.blob.sha256);
        } else {
          const end = range[1] === undefined ? BIG : range[1] + 1;
          expect(result.status).toBe(206);
          expect(result.bytes).toBe(end - range[0]);
          expect(result.sha256).toBe(await rangeSha256(blob, range[0], end));
        }
      }
      // One transfer: the origin sent the file's bytes once (give or take one chunk of a retried read).
      expect(origin.stats.bytesByBlob.get(file.etag)).toBe(BIG);
      expect(origin.stats.requests.cdn + origin.stats.requests.getResolve).toBe(1);
      // One metadata HEAD too: the simultaneous requests share it, later ones join the running fill.
      expect(origin.stats.requests.head).toBe(1);
      origin.stats.reset();
      const late = await Promise.all([get({ url }), get({ url, range: [BIG - 5] })]);
      expect(late.map((r) => r.status)).toEqual([200, 206]);
      expect(origin.stats.requests.head + origin.stats.requests.cdn).toBe(0);
    } finally {
      await mirror.close();
    }
  });

  it('a reset and a stall mid-fill are retried upstream; clients still get the right bytes', async () => {
    const mirror = await startMirror({ upstream: origin.url, stallTimeoutMs: 1_000 });
    try {
      for (const [path, fault] of [
        ['mid-a.bin', { kind: 'reset', afterBytes: 5 * MiB }],
        ['mid-b.bin', { kind: 'stall', afterBytes: 5 * MiB }],
      ] as const) {
        const file = origin.file({ repoId: 'acme/big', path });
        origin.faults.add({ ...fault, match: { path } });
        const url = `${mirror.url}/acme/big/resolve/main/${path}`;
        const results = await Promise.all([get({ url }), get({ url }), get({ url, range: [MiB] })]);
        expect(results[0]!.sha256, path).toBe(file.blob.sha256);
        expect(results[1]!.sha256, path).toBe(file.blob.sha256);
        expect(results[2]!.bytes, path).toBe(file.blob.size - MiB);
        expect(await sha256File(join(mirror.cacheDir, 'models--acme--big', 'blobs', file.etag))).toBe(file.blob.sha256);
      }
    } finally {
      await mirror.close();
    }
  });

  it('a request arriving while a fill runs joins it: no second HEAD or body request upstream', async () => {
    const mirror = await startMirror({ upstream: origin.url });
    try {
      const file = origin.file({ repoId: 'acme/big', path: 'mid-a.bin' });
      origin.faults.add({ kind: 'trickle', bytesPerSecond: 8 * MiB, match: { path: 'mid-a.bin' } });
      origin.stats.reset();
      const url = `${mirror.url}/acme/big/resolve/main/mid-a.bin`;
      const first = get({ url });
      // Wait until the fill is visibly under way, then ask again.
      while ((mirror.store.fills()[0]?.written ?? 0) < MiB) await new Promise((r) => setTimeout(r, 20));
      const second = await get({ url });
      expect(second.sha256).toBe(file.blob.sha256);
      expect((await first).sha256).toBe(file.blob.sha256);
      expect(origin.stats.requests.head).toBe(1);
      expect(origin.stats.requests.cdn + origin.stats.requests.getResolve).toBe(1);
    } finally {
      origin.faults.clear();
      await mirror.close();
    }
  });

  it('corrupt bytes upstream: no blob is committed, whole-file clients get a cut transfer, not a wrong file', async () => {
    const mirror = await startMirror({ upstream: origin.url });
    try {
      const file = origin.file({ repoId: 'acme/big', path: 'mid-c.bin' });
      origin.faults.add({ kind: 'corrupt', afterBytes: 10 * MiB, match: { path: 'mid-c.bin' } });
      const url = `${mirror.url}/acme/big/resolve/main/mid-c.bin`;
      const results = await Promise.all([get({ url }), get({ url })]);
      for (const result of results) {
        expect(result.cut).toBe(true);
        expect(result.bytes).toBeLessThan(file.blob.size);
      }
      expect(await blobNames(mirror)).not.toContain(file.etag);
      expect(await stat(join(mirror.cacheDir, 'models--acme--big', 'snapshots')).then(() => 'exists', () => 'absent')).toBe('absent');
      // The next request fills again from a good upstream.
      const retry = await get({ url });
      expect(retry.sha256).toBe(file.blob.sha256);
    } finally {
      await mirror.close();
    }
  });
});
