/**
 * `download` of several files: one commit per call, a ref only to a snapshot that
 * exists, a filter that matches nothing is an error, and files a concurrent
 * cleanup removes are fetched again before the command reports success.
 */
import { access, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOrigin, type Origin } from '../helpers/origin/createOrigin.js';
import { linearRepo } from '../helpers/origin/fixture.js';
import { pythonHub, pythonScan } from '../helpers/pythonHub.js';
import { runCli } from '../helpers/runCli.js';
import { makeTempDir } from '../helpers/tempDir.js';

const exists = (path: string): Promise<boolean> => access(path).then(() => true, () => false);
const slow = { size: 1024 * 1024, seed: 'slow-1m' };

/** Two commits; `mainAt` says which one `main` names (ids are the same in both variants). */
function moving(mainAt: 0 | 1) {
  return linearRepo({
    repoId: 'acme/moving',
    commits: [
      { files: [{ path: 'a.bin', source: slow, lfs: true }, { path: 'b.txt', source: 'b at 0' }], ...(mainAt === 0 ? { refs: ['main'] } : {}) },
      { files: [{ path: 'b.txt', source: 'b at 1' }] },
    ],
  });
}
const two = linearRepo({ repoId: 'acme/two', commits: [{ files: [{ path: 'a.txt', source: 'a' }, { path: 'slow.bin', source: { size: 1024 * 1024, seed: 'slow-two' }, lfs: true }] }] });

let origin: Origin;
beforeAll(async () => {
  origin = await createOrigin({ fixture: { repos: [moving(0), two] } });
});
afterAll(async () => origin?.close());

async function waitForPartial(blobsDir: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const names = await readdir(blobsDir).catch(() => [] as string[]);
    if (names.some((n) => n.endsWith('.incomplete'))) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('no partial download appeared');
}

describe('download of several files', () => {
  it('include/exclude matching nothing: exit 1 with E_ENTRY_NOT_FOUND, and no ref to a commit without a snapshot', async () => {
    const cacheDir = join(await makeTempDir(), 'hub');
    const run = await runCli({ args: ['download', 'acme/two', '--include', '*.nothing', '--json', '--cache-dir', cacheDir], env: { HF_ENDPOINT: origin.url } });
    expect(run.code, run.stderr).toBe(1);
    expect(run.json().error.code).toBe('E_ENTRY_NOT_FOUND');
    expect(run.json().error.message).toMatch(/matches --include \*\.nothing/);
    expect(await exists(join(cacheDir, 'models--acme--two', 'refs', 'main'))).toBe(false);
    const python = pythonHub();
    if (python) expect(pythonScan(python, cacheDir).warnings).toEqual([]);
  });

  it('explicit files on a branch all come from one commit, even when the branch moves during the call', async () => {
    const cacheDir = join(await makeTempDir(), 'hub');
    origin.faults.add({ kind: 'trickle', bytesPerSecond: 512 * 1024, match: { path: 'a.bin' }, times: Infinity });
    try {
      const download = runCli({ args: ['download', 'acme/moving', 'a.bin', 'b.txt', '--max-workers', '1', '--json', '--cache-dir', cacheDir], env: { HF_ENDPOINT: origin.url } });
      await waitForPartial(join(cacheDir, 'models--acme--moving', 'blobs'));
      await origin.setFixture({ repos: [moving(1), two] });
      const run = await download;
      expect(run.code, run.stderr).toBe(0);
      const out = run.json();
      expect(new Set(out.files.map((f: { commit: string }) => f.commit))).toEqual(new Set([out.commit]));
      expect(await readdir(join(cacheDir, 'models--acme--moving', 'snapshots'))).toEqual([out.commit]);
    } finally {
      origin.faults.clear();
      await origin.setFixture({ repos: [moving(0), two] });
    }
  });

  it('a file removed by a cleanup while the rest downloads is fetched again before success is reported', async () => {
    const cacheDir = join(await makeTempDir(), 'hub');
    const env = { HF_ENDPOINT: origin.url };
    const first = await runCli({ args: ['download', 'acme/two', 'a.txt', '-q', '--cache-dir', cacheDir], env });
    expect(first.code, first.stderr).toBe(0);
    const commit = Object.keys(two.commits)[0]!;
    // slow.bin stalls after its first bytes until the download's --timeout retries it (the retry is
    // clean): the call cannot finish before the rm below, however slow the machine is.
    origin.faults.add({ kind: 'stall', afterBytes: 64 * 1024, ms: 60_000, match: { path: 'slow.bin' }, times: 1 });
    try {
      const download = runCli({ args: ['download', 'acme/two', '--json', '--timeout', '3', '--cache-dir', cacheDir], env });
      await waitForPartial(join(cacheDir, 'models--acme--two', 'blobs'));
      // a.txt was a cache hit of this very call; now it goes.
      const rm = await runCli({ args: ['rm', `acme/two@${commit}:a.txt`, '-y', '--cache-dir', cacheDir], env });
      expect(rm.code, rm.stderr).toBe(0);
      expect(await exists(join(cacheDir, 'models--acme--two', 'snapshots', commit, 'a.txt'))).toBe(false);
      const run = await download;
      expect(run.code, run.stderr).toBe(0);
      for (const file of run.json().files as Array<{ path: string }>) expect(await exists(file.path), file.path).toBe(true);
    } finally {
      origin.faults.clear();
    }
  });
});
