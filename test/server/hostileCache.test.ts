/**
 * The cache changing under the mirror: a cleanup deleting a blob while the mirror links, serves or
 * fills it, a read-only cache served by a user who cannot write it, a disk that fills up during
 * fills. Clients get right bytes or a clean error, never a wrong file; `hubcache verify` stays clean.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, readdir, unlink } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireLock } from '../../src/cache/lock.js';
import { repoPaths } from '../../src/cache/repoPaths.js';
import { createOrigin, type Origin } from '../helpers/origin/createOrigin.js';
import { linearRepo } from '../helpers/origin/fixture.js';
import { CLI_PATH, runCli } from '../helpers/runCli.js';
import { hashedGet, startMirror } from '../helpers/startMirror.js';
import { makeTempDir } from '../helpers/tempDir.js';

const MiB = 1024 * 1024;
const REPO = { repoType: 'model' as const, repoId: 'acme/c' };
let origin: Origin;

beforeAll(async () => {
  origin = await createOrigin({
    fixture: {
      repos: [
        linearRepo({
          repoId: 'acme/c',
          commits: [
            {
              files: [
                { path: 'small.txt', source: 'small file' },
                { path: 'w.bin', source: { size: 8 * MiB, seed: 'hostile-cache-w' } },
                { path: 'a.bin', source: { size: 12 * MiB, seed: 'hostile-cache-a' } },
                { path: 'b.bin', source: { size: 12 * MiB, seed: 'hostile-cache-b' } },
                { path: 'huge.bin', source: { size: 24 * MiB, seed: 'hostile-cache-huge' } },
              ],
            },
          ],
        }),
      ],
    },
  });
});
afterAll(async () => origin?.close());

/** GET, hashing the body (the shared helper, positional here for brevity). */
const get = (url: string, onData?: (bytes: number) => void) => hashedGet({ url, ...(onData ? { onData } : {}) });

async function verifyClean(cacheDir: string): Promise<void> {
  const result = await runCli({ args: ['verify', '--cache-dir', cacheDir, '--json'] });
  expect(result.code, result.stdout + result.stderr).toBe(0);
}

describe('a cleanup racing the mirror', () => {
  it('the blob deleted (under its lock) while the mirror links it into a snapshot: the file is fetched again, never a cut 200', async () => {
    const mirror = await startMirror({ upstream: origin.url });
    try {
      const file = origin.file({ repoId: 'acme/c', path: 'small.txt' });
      const url = `${mirror.url}/acme/c/resolve/main/small.txt`;
      expect((await get(url)).sha256).toBe(file.blob.sha256);
      const paths = repoPaths({ ...REPO, cacheDir: mirror.cacheDir });
      // The snapshot link gone (another revision asked, or a partial cleanup): the next hit relinks it under the etag lock...
      const commit = (await fetch(url, { method: 'HEAD' })).headers.get('x-repo-commit')!;
      await unlink(paths.snapshotFile(commit, 'small.txt'));
      const lock = await acquireLock({ path: paths.lock(file.etag) });
      const pending = get(url);
      await new Promise((r) => setTimeout(r, 300));
      // ...and a cleanup holding that lock deletes the blob first.
      await unlink(paths.blob(file.etag));
      await lock.release();
      const got = await pending;
      expect(got).toMatchObject({ status: 200, cut: false, sha256: file.blob.sha256 });
      await verifyClean(mirror.cacheDir);
    } finally {
      await mirror.close();
    }
  });

  it('`hubcache rm` of the repo during a fill and during a slow cached read: both clients get every right byte, verify is clean', async () => {
    const mirror = await startMirror({ upstream: origin.url });
    try {
      const file = origin.file({ repoId: 'acme/c', path: 'w.bin' });
      const url = `${mirror.url}/acme/c/resolve/main/w.bin`;
      origin.faults.add({ kind: 'trickle', bytesPerSecond: 4 * MiB, match: { path: 'w.bin' } });
      let removed: Promise<unknown> | undefined;
      const filled = await get(url, (bytes) => {
        if (bytes >= MiB && removed === undefined) removed = runCli({ args: ['rm', 'acme/c', '--yes', '--cache-dir', mirror.cacheDir, '--json'] });
      });
      await removed;
      expect(filled).toMatchObject({ status: 200, cut: false, sha256: file.blob.sha256 });
      expect(mirror.store.fills()).toEqual([]);
      await verifyClean(mirror.cacheDir);

      // Now cached: a reader that has the file open keeps reading it while rm deletes it.
      expect((await get(url)).sha256).toBe(file.blob.sha256);
      let removedAgain: Promise<unknown> | undefined;
      const served = await new Promise<{ bytes: number; sha256: string }>((resolve) => {
        const req = request(url, (res) => {
          const hash = createHash('sha256');
          let bytes = 0;
          res.on('data', (chunk: Buffer) => {
            bytes += chunk.byteLength;
            hash.update(chunk);
            if (bytes >= MiB && removedAgain === undefined) {
              res.pause();
              removedAgain = runCli({ args: ['rm', 'acme/c', '--yes', '--cache-dir', mirror.cacheDir, '--json'] }).then(() => res.resume());
            }
          });
          res.on('end', () => resolve({ bytes, sha256: hash.digest('hex') }));
        });
        req.end();
      });
      await removedAgain;
      expect(served).toEqual({ bytes: 8 * MiB, sha256: file.blob.sha256 });
      await verifyClean(mirror.cacheDir);
    } finally {
      origin.faults.clear();
      await mirror.close();
    }
  });
});

const isRoot = process.getuid?.() === 0;

describe.skipIf(!isRoot)('a full disk (tmpfs of 20 MiB, as root)', () => {
  let mountPoint: string | undefined;
  afterAll(() => {
    if (mountPoint) execFileSync('umount', ['-l', mountPoint]);
  });

  it('a file bigger than the disk is a 507 at once; two fills that together overflow it leave no blob or partial of the loser; verify is clean', async () => {
    mountPoint = await makeTempDir({ prefix: 'hubcache-tmpfs-' });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=20m', 'tmpfs', mountPoint]);
    const cacheDir = join(mountPoint, 'hub');
    const mirror = await startMirror({ upstream: origin.url, cacheDir });
    try {
      const huge = await get(`${mirror.url}/acme/c/resolve/main/huge.bin`);
      expect(huge.status).toBe(507);
      // 12 + 12 MiB on 20 MiB: both pass the free-space check at start, one runs out mid-fill.
      origin.faults.add({ kind: 'trickle', bytesPerSecond: 8 * MiB, match: { path: 'a.bin' } });
      origin.faults.add({ kind: 'trickle', bytesPerSecond: 8 * MiB, match: { path: 'b.bin' } });
      const results = await Promise.all(['a.bin', 'b.bin'].map((path) => get(`${mirror.url}/acme/c/resolve/main/${path}`)));
      const blobs = await readdir(join(cacheDir, 'models--acme--c', 'blobs'));
      for (const [i, path] of ['a.bin', 'b.bin'].entries()) {
        const file = origin.file({ repoId: 'acme/c', path });
        const result = results[i]!;
        if (blobs.includes(file.etag)) expect(result).toMatchObject({ status: 200, cut: false, sha256: file.blob.sha256 });
        else expect(result.status === 507 || result.cut, JSON.stringify(result)).toBe(true);
      }
      expect(results.some((r) => r.status === 507 || r.cut)).toBe(true);
      expect(blobs.filter((name) => name.includes('.incomplete'))).toEqual([]);
      expect(mirror.store.fills()).toEqual([]);
      await verifyClean(cacheDir);
    } finally {
      origin.faults.clear();
      await mirror.close();
    }
  }, 120_000);
});

describe.skipIf(!isRoot)('a read-only cache, served by a user who cannot write it', () => {
  it('serves what it has; a file it lacks is a clean 503, not a hang-up', async () => {
    const base = await makeTempDir({ prefix: 'hubcache-ro-' });
    await chmod(base, 0o755);
    const cacheDir = join(base, 'hub');
    const filler = await startMirror({ upstream: origin.url, cacheDir });
    const small = origin.file({ repoId: 'acme/c', path: 'small.txt' });
    expect((await get(`${filler.url}/acme/c/resolve/main/small.txt`)).sha256).toBe(small.blob.sha256);
    await filler.close();
    execFileSync('chmod', ['-R', 'a-w,a+rX', cacheDir]);
    const child: ChildProcess = spawn(
      'setpriv',
      ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, CLI_PATH, 'serve', '--port', '0', '--json', '--cache-dir', cacheDir, '--upstream', origin.url],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let stdout = '';
        let stderr = '';
        child.stdout!.on('data', (d: Buffer) => {
          stdout += d.toString();
          const match = /"url"\s*:\s*"([^"]+)"/.exec(stdout);
          if (match?.[1]) resolve(match[1]);
        });
        child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
        child.once('exit', (code) => reject(new Error(`serve exited (${code}): ${stderr}`)));
      });
      expect(await get(`${url}/acme/c/resolve/main/small.txt`)).toMatchObject({ status: 200, cut: false, sha256: small.blob.sha256 });
      const missing = await get(`${url}/acme/c/resolve/main/w.bin`);
      expect(missing.status).toBe(503);
      // Still alive and serving after that.
      expect((await get(`${url}/acme/c/resolve/main/small.txt`)).sha256).toBe(small.blob.sha256);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      execFileSync('chmod', ['-R', 'u+w', cacheDir]);
    }
  });
});
