/**
 * Real processes racing on one cache: the flock on the blob makes the origin
 * serve the body once; different files proceed in parallel.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOrigin, type Origin } from '../helpers/origin/createOrigin.js';
import { linearRepo } from '../helpers/origin/fixture.js';
import { makeTempDir } from '../helpers/tempDir.js';
import { sha256File } from '../helpers/sha256File.js';
import { runCli } from '../helpers/runCli.js';

const SIZE = 256 * 1024 * 1024;
let origin: Origin;
/** Its CDN on https (self-signed, trusted through NODE_EXTRA_CA_CERTS): the real path of LFS bytes. */
let tlsOrigin: Origin;

beforeAll(async () => {
  const fixture = {
      repos: [
        linearRepo({
          repoId: 'acme/big',
          commits: [
            {
              files: [
                { path: 'model.gguf', source: { size: SIZE, seed: 'big-256' } },
                { path: 'a.safetensors', source: { size: 24 * 1024 * 1024, seed: 'a-24' } },
                { path: 'b.safetensors', source: { size: 24 * 1024 * 1024, seed: 'b-24' } },
              ],
            },
          ],
        }),
      ],
  };
  origin = await createOrigin({ fixture });
  tlsOrigin = await createOrigin({ fixture, cdnTls: true });
}, 120_000);
afterAll(async () => {
  await origin?.close();
  await tlsOrigin?.close();
});

describe('concurrent downloads', () => {
  it.each(['http', 'https'] as const)('8 processes downloading the same 256 MiB file (CDN over %s): the body crosses the network once, all 8 get the verified file', async (scheme) => {
    const from = scheme === 'https' ? tlsOrigin : origin;
    const cacheDir = join(await makeTempDir(), 'hub');
    const expected = from.file({ repoId: 'acme/big', path: 'model.gguf' });
    // Slow enough that all 8 are running while the first downloads.
    from.faults.add({ kind: 'trickle', bytesPerSecond: 128 * 1024 * 1024, match: { path: 'model.gguf' }, times: Infinity });
    from.stats.reset();
    const runs = await Promise.all(
      Array.from({ length: 8 }, () =>
        runCli({
          args: ['download', 'acme/big', 'model.gguf', '--json', '--cache-dir', cacheDir],
          env: { HF_ENDPOINT: from.url, ...(from.caFile ? { NODE_EXTRA_CA_CERTS: from.caFile } : {}) },
          timeoutMs: 120_000,
        }),
      ),
    );
    from.faults.clear();
    for (const run of runs) expect(run.code, run.stderr).toBe(0);
    const results = runs.map((r) => r.json());
    expect(new Set(results.map((r) => r.path)).size).toBe(1);
    expect(results.filter((r) => !r.fromCache)).toHaveLength(1);
    // Served once: every body byte of this blob counted by the origin adds up to one copy.
    expect(from.stats.bytesByBlob.get(expected.etag) ?? 0).toBe(SIZE);
    expect(await sha256File(results[0].path)).toBe(expected.etag);
    // The waiters said whom they waited for.
    expect(runs.some((r) => /waiting for pid \d+/.test(r.stderr))).toBe(true);
    const blobs = await readdir(join(cacheDir, 'models--acme--big', 'blobs'));
    expect(blobs).toEqual([expected.etag]);
  }, 180_000);

  it('2 processes on different files of one repo both succeed, in parallel', async () => {
    const cacheDir = join(await makeTempDir(), 'hub');
    origin.faults.add({ kind: 'trickle', bytesPerSecond: 16 * 1024 * 1024, match: { route: 'cdn' }, times: Infinity });
    origin.stats.reset();
    const [a, b] = await Promise.all(
      ['a.safetensors', 'b.safetensors'].map((file) =>
        runCli({ args: ['download', 'acme/big', file, '--connections', '1', '--cache-dir', cacheDir], env: { HF_ENDPOINT: origin.url }, timeoutMs: 60_000 }),
      ),
    );
    origin.faults.clear();
    expect(a!.code, a!.stderr).toBe(0);
    expect(b!.code, b!.stderr).toBe(0);
    // Each file alone takes ~1.5 s at this rate: both bodies were on the wire at once (no lock
    // between different blobs). Overlap is shown by the origin, not by a wall-clock bound.
    expect(origin.stats.maxInFlight).toBeGreaterThanOrEqual(2);
    for (const file of ['a.safetensors', 'b.safetensors']) {
      const expected = origin.file({ repoId: 'acme/big', path: file });
      expect(await sha256File(join(cacheDir, 'models--acme--big', 'blobs', expected.etag))).toBe(expected.etag);
    }
  }, 120_000);
});
