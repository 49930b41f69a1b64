/**
 * Every injected fault ends in a verified file (after retry) or a clear error
 * with exit 1, and never in a blob or link with wrong content.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdir, readdir, readFile, readlink, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOrigin, type Origin } from '../helpers/origin/createOrigin.js';
import { linearRepo } from '../helpers/origin/fixture.js';
import type { Fault } from '../helpers/origin/faults.js';
import { makeTempDir } from '../helpers/tempDir.js';
import { runCli } from '../helpers/runCli.js';

// Above THREADED_MIN_BYTES (16 MiB), so the raw reader takes the body over http and over https, as it
// does for real model files (below it node:http/https would, and the new path would go untested).
const BIG = 24 * 1024 * 1024;
let origin: Origin;
/** The same Hub with its CDN on https (self-signed, trusted through NODE_EXTRA_CA_CERTS): the real path of LFS bytes. */
let tlsOrigin: Origin;
type Scheme = 'http' | 'https';
const originOf = (scheme: Scheme): Origin => (scheme === 'https' ? tlsOrigin : origin);

function faultyFixture(): Parameters<typeof createOrigin>[0]['fixture'] {
  return {
      repos: [
        linearRepo({
          repoId: 'acme/faulty',
          commits: [
            {
              files: [
                { path: 'weights.safetensors', source: { size: BIG, seed: 'faulty-24' } },
                { path: 'config.json', source: '{"hidden_size": 64}' },
              ],
            },
          ],
        }),
      ],
  };
}

beforeAll(async () => {
  origin = await createOrigin({ fixture: faultyFixture() });
  tlsOrigin = await createOrigin({ fixture: faultyFixture(), cdnTls: true });
}, 60_000);
afterAll(async () => {
  await origin?.close();
  await tlsOrigin?.close();
});

function download(params: { cacheDir: string; file: string; extra?: string[]; env?: Record<string, string | undefined>; scheme?: Scheme }) {
  const from = originOf(params.scheme ?? 'http');
  return runCli({
    args: ['download', 'acme/faulty', params.file, '--json', '--timeout', '1', '--retries', '2', '--cache-dir', params.cacheDir, ...(params.extra ?? [])],
    env: { HF_ENDPOINT: from.url, ...(from.caFile ? { NODE_EXTRA_CA_CERTS: from.caFile } : {}), ...params.env },
    timeoutMs: 60_000,
  });
}

/** No blob with wrong content and no link to a missing or wrong blob, whatever happened. */
async function expectCacheConsistent(cacheDir: string): Promise<void> {
  const repoDir = join(cacheDir, 'models--acme--faulty');
  const blobs = await readdir(join(repoDir, 'blobs')).catch(() => [] as string[]);
  for (const name of blobs.filter((n) => !n.endsWith('.incomplete'))) {
    const data = await readFile(join(repoDir, 'blobs', name));
    const digest = name.length === 64 ? createHash('sha256').update(data).digest('hex') : createHash('sha1').update(`blob ${data.length}\0`).update(data).digest('hex');
    expect(digest, name).toBe(name);
  }
  const verify = await runCli({ args: ['verify', '--json', '--cache-dir', cacheDir] });
  expect(verify.json().findings.filter((f: any) => f.severity === 'error')).toEqual([]);
}

const transient: Array<{ name: string; fault: Fault }> = [
  { name: 'connection reset mid-body', fault: { kind: 'reset', afterBytes: 3_000_000 } },
  { name: 'body shorter than Content-Length', fault: { kind: 'truncate', afterBytes: 1_000_000 } },
  { name: 'wrong bytes (one flipped)', fault: { kind: 'corrupt', afterBytes: 5_000_000 } },
  { name: 'stall longer than --timeout', fault: { kind: 'stall', afterBytes: 2_000_000, ms: 5_000 } },
  { name: '503 with Retry-After', fault: { kind: 'status', status: 503, retryAfter: 1 } },
  { name: '500', fault: { kind: 'status', status: 500 } },
  { name: '200 to a Range request', fault: { kind: 'ignoreRange' } },
  { name: 'slow trickle', fault: { kind: 'trickle', bytesPerSecond: 4 * 1024 * 1024 } },
];

describe.each(['http', 'https'] as const)('over %s', (scheme) => {
describe('transient faults end in a verified file', () => {
  it.each(transient)('$name', async ({ fault }) => {
    const origin = originOf(scheme);
    const cacheDir = join(await makeTempDir(), 'hub');
    const expected = origin.file({ repoId: 'acme/faulty', path: 'weights.safetensors' });
    if (fault.kind === 'ignoreRange') {
      // Make the first attempt fail after some bytes so the retry asks for a Range the server then ignores.
      origin.faults.add({ kind: 'reset', afterBytes: 2_000_000, match: { route: 'cdn' }, times: 1 });
    }
    origin.faults.add({ ...fault, match: { ...(fault.kind === 'status' ? {} : { route: 'cdn' }), path: 'weights.safetensors' }, times: 1 });
    const res = await download({ cacheDir, file: 'weights.safetensors', extra: ['--connections', '1'], scheme });
    origin.faults.clear();
    expect(res.code, res.stderr).toBe(0);
    // The LFS bytes really came over TLS from the CDN host.
    if (scheme === 'https') expect(origin.cdnUrl).toMatch(/^https:\/\//);
    const data = await readFile(res.json().path);
    expect(createHash('sha256').update(data).digest('hex')).toBe(expected.etag);
    await expectCacheConsistent(cacheDir);
  }, 60_000);
});

describe('persistent faults end in a clear error, exit 1, and a consistent cache', () => {
  const persistent: Array<{ name: string; fault: Fault; message: RegExp }> = [
    { name: 'always wrong bytes', fault: { kind: 'corrupt', afterBytes: 100 }, message: /does not match its etag both times/ },
    { name: 'always reset', fault: { kind: 'reset', afterBytes: 1000 }, message: /connection to .* failed|ended .* early/ },
    { name: 'always 503', fault: { kind: 'status', status: 503 }, message: /HTTP 503/ },
    { name: 'always stalled', fault: { kind: 'stall', afterBytes: 1000 }, message: /stalled/ },
  ];
  it.each(persistent)('$name', async ({ fault, message }) => {
    const origin = originOf(scheme);
    const cacheDir = join(await makeTempDir(), 'hub');
    origin.faults.add({ ...fault, match: { ...(fault.kind === 'status' ? {} : { route: 'cdn' }), path: 'weights.safetensors' }, times: Infinity });
    const res = await download({ cacheDir, file: 'weights.safetensors', extra: ['--connections', '1'], scheme });
    origin.faults.clear();
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(message);
    expect(res.stderr).not.toMatch(/\n\s+at /);
    expect(res.json().error.code).toMatch(/^E_(NETWORK|INTEGRITY)$/);
    const snapshot = join(cacheDir, 'models--acme--faulty', 'snapshots');
    expect(await readdir(snapshot).catch(() => [])).toEqual([]);
    await expectCacheConsistent(cacheDir);
  }, 60_000);
});
});

describe('Hub errors', () => {
  it('404s, bad revisions and unreachable hosts give typed errors and exit 1', async () => {
    const cacheDir = join(await makeTempDir(), 'hub');
    const missingRepo = await runCli({ args: ['download', 'acme/nope', 'x', '--json', '--cache-dir', cacheDir], env: { HF_ENDPOINT: origin.url } });
    expect(missingRepo.code).toBe(1);
    expect(missingRepo.json().error.code).toBe('E_REPO_NOT_FOUND');
    const missingRev = await runCli({ args: ['download', 'acme/faulty', 'config.json', '-r', 'nope', '--json', '--cache-dir', cacheDir], env: { HF_ENDPOINT: origin.url } });
    expect(missingRev.json().error.code).toBe('E_REVISION_NOT_FOUND');
    const missingFile = await runCli({ args: ['download', 'acme/faulty', 'nope.json', '--json', '--cache-dir', cacheDir], env: { HF_ENDPOINT: origin.url } });
    expect(missingFile.json().error.code).toBe('E_ENTRY_NOT_FOUND');
    // The absence is remembered like huggingface_hub does, under .no_exist/<commit>/.
    const noExist = await readdir(join(cacheDir, 'models--acme--faulty', '.no_exist'));
    expect(noExist).toHaveLength(1);
    const unreachable = await runCli({ args: ['download', 'acme/faulty', 'config.json', '--retries', '0', '--json', '--cache-dir', cacheDir], env: { HF_ENDPOINT: 'http://127.0.0.1:9' } });
    expect(unreachable.code).toBe(1);
    expect(unreachable.json().error.code).toBe('E_NETWORK');
    expect(unreachable.stderr).toMatch(/connection refused by 127.0.0.1:9/);
  });
});

describe('offline and network fallback', () => {
  it('resolves a cached branch with the network unreachable, and names what is missing', async () => {
    const cacheDir = join(await makeTempDir(), 'hub');
    const first = await download({ cacheDir, file: 'config.json' });
    expect(first.code, first.stderr).toBe(0);
    const dead = { HF_ENDPOINT: 'http://127.0.0.1:9' };
    const offline = await runCli({ args: ['download', 'acme/faulty', 'config.json', '--cache-dir', cacheDir], env: { ...dead, HF_HUB_OFFLINE: '1' } });
    expect(offline.code, offline.stderr).toBe(0);
    expect(offline.stdout.trim()).toBe(first.json().path);
    const fallback = await runCli({ args: ['download', 'acme/faulty', 'config.json', '--retries', '0', '--cache-dir', cacheDir], env: dead });
    expect(fallback.code, fallback.stderr).toBe(0);
    expect(fallback.stderr).toMatch(/using the cached copy/);
    const missing = await runCli({ args: ['download', 'acme/faulty', 'weights.safetensors', '--offline', '--cache-dir', cacheDir], env: dead });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/Offline mode: acme\/faulty\/weights\.safetensors at revision main is not in the cache/);
  });

  it('needs no network at all when the revision is a commit and the file is present', async () => {
    const cacheDir = join(await makeTempDir(), 'hub');
    const first = await download({ cacheDir, file: 'config.json' });
    const commit = first.json().commit;
    origin.stats.reset();
    const again = await runCli({ args: ['download', 'acme/faulty', 'config.json', '-r', commit, '--cache-dir', cacheDir], env: { HF_ENDPOINT: origin.url } });
    expect(again.code).toBe(0);
    expect(origin.stats.log).toHaveLength(0);
  });
});

describe('full disk', () => {
  it('gives a clear error and leaves the cache consistent', async () => {
    if (process.getuid?.() !== 0) return; // mounting a tmpfs needs root (CI runs as root)
    const mountPoint = await makeTempDir();
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=6m', 'tmpfs', mountPoint]);
    try {
      const cacheDir = join(mountPoint, 'hub');
      await mkdir(cacheDir);
      const small = await download({ cacheDir, file: 'config.json' });
      expect(small.code, small.stderr).toBe(0);
      const res = await download({ cacheDir, file: 'weights.safetensors' });
      expect(res.code).toBe(1);
      expect(res.json().error.code).toBe('E_DISK_FULL');
      expect(res.stderr).toMatch(/only \d+ are free|No space left/);
      await expectCacheConsistent(cacheDir);
      expect(await readlink(small.json().path)).toMatch(/^\.\.\/\.\.\/blobs\//);
    } finally {
      execFileSync('umount', ['-l', mountPoint]);
      await rm(mountPoint, { recursive: true, force: true });
    }
  });
});
