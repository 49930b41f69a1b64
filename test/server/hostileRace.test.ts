/**
 * Clients racing each other and a moving branch: many cold requests for different files of one
 * repo and for one file by branch, commit and tag at once; a client that leaves mid-fill; HEAD then
 * GET while upstream moves the branch. Every client gets the bytes of the commit it was told, each
 * blob crosses from upstream once, and nothing (fills, descriptors) is left behind.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readlinkSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOrigin, type Origin } from '../helpers/origin/createOrigin.js';
import { linearRepo, type FixtureRepo } from '../helpers/origin/fixture.js';
import { runCli } from '../helpers/runCli.js';
import { startMirror } from '../helpers/startMirror.js';

const MiB = 1024 * 1024;
let origin: Origin;

/** `moved`: main is one commit further, where moving.txt says "moved on". */
function repo(moved: boolean): FixtureRepo {
  return linearRepo({
    repoId: 'acme/race',
    commits: [
      {
        files: [
          ...Array.from({ length: 6 }, (_, i) => ({ path: `part-${i}.bin`, source: { size: 3 * MiB, seed: `race-part-${i}` } })),
          { path: 'same.bin', source: { size: 4 * MiB, seed: 'race-same' } },
          { path: 'moving.txt', source: 'old content' },
        ],
        refs: ['v1'],
      },
      { files: [{ path: 'moving.txt', source: 'main content' }] },
      ...(moved ? [{ files: [{ path: 'moving.txt', source: 'moved on' }] }] : []),
    ],
  });
}

beforeAll(async () => {
  origin = await createOrigin({ fixture: { repos: [repo(false)] } });
});
afterAll(async () => origin?.close());

/** This process's descriptors open on files under `dir` (sockets of the in-process origin and keep-alive pools do not count). */
function filesOpenUnder(dir: string): string[] {
  const open: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (target.startsWith(dir)) open.push(target);
    } catch {
      // closed meanwhile
    }
  }
  return open;
}

function get(url: string, params: { method?: string; abortAfter?: number } = {}): Promise<{ status: number; commit: string; body: Buffer; cut: boolean }> {
  return new Promise((resolve) => {
    const req = request(url, { method: params.method ?? 'GET' }, (res) => {
      const chunks: Buffer[] = [];
      let bytes = 0;
      let done = false;
      const finish = (cut: boolean): void => {
        if (done) return;
        done = true;
        resolve({ status: res.statusCode ?? 0, commit: String(res.headers['x-repo-commit'] ?? ''), body: Buffer.concat(chunks), cut });
      };
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.byteLength;
        chunks.push(chunk);
        if (params.abortAfter !== undefined && bytes >= params.abortAfter) {
          req.destroy();
          finish(true);
        }
      });
      res.on('end', () => finish(!res.complete));
      res.on('close', () => finish(!res.complete));
      res.on('error', () => finish(true));
    });
    req.on('error', () => resolve({ status: 0, commit: '', body: Buffer.alloc(0), cut: true }));
    req.end();
  });
}

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

async function settle(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 25));
}

describe('racing clients', () => {
  it('cold requests for six files and for one file by branch, commit and tag at once: right bytes, one transfer per blob, nothing left', async () => {
    const mirror = await startMirror({ upstream: origin.url });
    try {
      origin.stats.reset();
      const commit = (await fetch(`${origin.url}/acme/race/resolve/v1/same.bin`, { method: 'HEAD', redirect: 'manual' })).headers.get('x-repo-commit')!;
      const asks = [
        ...Array.from({ length: 6 }, (_, i) => ({ path: `part-${i}.bin`, revision: 'main' })),
        ...['main', 'v1', commit, 'main', 'v1', commit].map((revision) => ({ path: 'same.bin', revision })),
      ];
      const results = await Promise.all(asks.map(({ path, revision }) => get(`${mirror.url}/acme/race/resolve/${revision}/${path}`)));
      for (const [i, { path, revision }] of asks.entries()) {
        const expected = origin.file({ repoId: 'acme/race', revision, path });
        expect(results[i]!.cut, `${revision}:${path}`).toBe(false);
        expect(sha256(results[i]!.body), `${revision}:${path}`).toBe(expected.blob.sha256);
      }
      for (const path of [...Array.from({ length: 6 }, (_, i) => `part-${i}.bin`), 'same.bin']) {
        const file = origin.file({ repoId: 'acme/race', path });
        expect(origin.stats.bytesByBlob.get(file.etag), path).toBe(file.blob.size);
      }
      await settle(() => mirror.store.fills().length === 0);
      expect(mirror.store.fills()).toEqual([]);
      await new Promise((r) => setTimeout(r, 200));
      expect(filesOpenUnder(mirror.cacheDir)).toEqual([]);
      const verify = await runCli({ args: ['verify', '--cache-dir', mirror.cacheDir, '--json'] });
      expect(verify.code, verify.stdout).toBe(0);
    } finally {
      await mirror.close();
    }
  });

  it('a client that leaves mid-fill: the fill completes for the cache, no fill or descriptor is left', async () => {
    const mirror = await startMirror({ upstream: origin.url });
    try {
      const file = origin.file({ repoId: 'acme/race', path: 'part-0.bin' });
      origin.faults.add({ kind: 'trickle', bytesPerSecond: 4 * MiB, match: { path: 'part-0.bin' } });
      const left = await get(`${mirror.url}/acme/race/resolve/main/part-0.bin`, { abortAfter: 512 * 1024 });
      expect(left.cut).toBe(true);
      await settle(() => mirror.store.fills().length === 0);
      expect(mirror.store.fills()).toEqual([]);
      const blob = await readFile(join(mirror.cacheDir, 'models--acme--race', 'blobs', file.etag));
      expect(sha256(blob)).toBe(file.blob.sha256);
      await new Promise((r) => setTimeout(r, 200));
      expect(filesOpenUnder(mirror.cacheDir)).toEqual([]);
    } finally {
      origin.faults.clear();
      await mirror.close();
    }
  });
});

describe('a branch that moves', () => {
  it('HEAD then GET while main moves: the GET serves the commit the HEAD named; after the ref TTL, the new one', async () => {
    const mirror = await startMirror({ upstream: origin.url, refTtlMs: 1_000 });
    try {
      const url = `${mirror.url}/acme/race/resolve/main/moving.txt`;
      const head = await get(url, { method: 'HEAD' });
      await origin.setFixture({ repos: [repo(true)] });
      const pinned = await get(url);
      expect(pinned.commit).toBe(head.commit);
      expect(pinned.body.toString()).toBe('main content');
      await new Promise((r) => setTimeout(r, 1_100));
      const moved = await get(url);
      expect(moved.commit).not.toBe(head.commit);
      expect(moved.body.toString()).toBe('moved on');
      const ref = await readFile(join(mirror.cacheDir, 'models--acme--race', 'refs', 'main'), 'utf8');
      expect(ref).toBe(moved.commit);
    } finally {
      await origin.setFixture({ repos: [repo(false)] });
      await mirror.close();
    }
  });

  it('a slow fill of the old commit finishing after a fill of the new one does not move refs/main back', async () => {
    const mirror = await startMirror({ upstream: origin.url, refTtlMs: 300 });
    try {
      origin.faults.add({ kind: 'trickle', bytesPerSecond: 2 * MiB, match: { path: 'part-1.bin' } });
      const slow = get(`${mirror.url}/acme/race/resolve/main/part-1.bin`);
      await settle(() => mirror.store.fills().length > 0);
      await origin.setFixture({ repos: [repo(true)] });
      await new Promise((r) => setTimeout(r, 400));
      const fresh = await get(`${mirror.url}/acme/race/resolve/main/moving.txt`);
      expect(fresh.body.toString()).toBe('moved on');
      const old = await slow;
      expect(old.cut).toBe(false);
      expect(old.commit).not.toBe(fresh.commit);
      const ref = await readFile(join(mirror.cacheDir, 'models--acme--race', 'refs', 'main'), 'utf8');
      expect(ref).toBe(fresh.commit);
      const verify = await runCli({ args: ['verify', '--cache-dir', mirror.cacheDir, '--json'] });
      expect(verify.code, verify.stdout).toBe(0);
    } finally {
      origin.faults.clear();
      await origin.setFixture({ repos: [repo(false)] });
      await mirror.close();
    }
  });
});
