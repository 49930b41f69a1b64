/**
 * A cleanup racing real writers: `hubcache download` processes fetch commit
 * after commit of a repo whose commits share most blobs with the previous one
 * (so most files are linked to blobs already present), while real
 * `hubcache evict --max-size ... -y` and `prune -y` processes run in a loop.
 * Afterwards no snapshot link may dangle, hubcache's verify must be clean, and
 * both Python's `scan_cache_dir` and `@huggingface/hub`'s `scanCacheDir`
 * must accept the repo (a single broken link makes both reject it).
 */
import { lstat, readdir, readlink, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { scanCacheDir } from '@huggingface/hub';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { executePlan } from '../../src/maintenance/executePlan.js';
import { planRm } from '../../src/maintenance/planRm.js';
import { parseRmTarget } from '../../src/maintenance/rmTarget.js';
import { createOrigin, type Origin } from '../helpers/origin/createOrigin.js';
import { linearRepo, type LinearCommit } from '../helpers/origin/fixture.js';
import { pythonHub, pythonScan } from '../helpers/pythonHub.js';
import { runCli } from '../helpers/runCli.js';
import { makeTempDir } from '../helpers/tempDir.js';
import { verifyErrors } from './cacheHealth.js';

const FILES = 80;
const COMMITS = 4;
const CHANGED_PER_COMMIT = 10;

/** Commit k replaces CHANGED_PER_COMMIT of the FILES files; the rest are the blobs of commit k-1. */
function sharedBlobRepo(): ReturnType<typeof linearRepo> {
  const commits: LinearCommit[] = [];
  for (let k = 0; k < COMMITS; k++) {
    const files = [];
    for (let i = 0; i < FILES; i++) {
      if (k > 0 && Math.floor(i / CHANGED_PER_COMMIT) !== k % (FILES / CHANGED_PER_COMMIT)) continue;
      files.push({ path: i % 5 === 0 ? `sub/f${i}.bin` : `f${i}.bin`, source: `file ${i} at commit ${k} `.repeat(20), lfs: false });
    }
    commits.push({ files });
  }
  return linearRepo({ repoId: 'acme/race', commits });
}

let origin: Origin;
const repo = sharedBlobRepo();
const commitIds = Object.keys(repo.commits);
/** Two commits with the same two files: the second links the blobs of the first. */
const twin = linearRepo({
  repoId: 'acme/twin',
  commits: [
    { files: [{ path: 'a.bin', source: 'a'.repeat(3000), lfs: false }, { path: 'b.bin', source: 'b'.repeat(3000), lfs: false }] },
    { files: [{ path: 'c.txt', source: 'new in the second commit', lfs: false }] },
  ],
});
const [twinOld, twinNew] = Object.keys(twin.commits) as [string, string];

beforeAll(async () => {
  origin = await createOrigin({ fixture: { repos: [repo, twin] } });
});
afterAll(async () => origin?.close());

/** Every snapshot entry that is a link whose target does not exist. */
async function danglingLinks(repoDir: string): Promise<string[]> {
  const found: string[] = [];
  async function walk(dir: string): Promise<void> {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.isSymbolicLink()) {
        const target = resolve(dirname(path), await readlink(path));
        if (!(await stat(target).then(() => true, () => false))) found.push(path);
      }
    }
  }
  await walk(join(repoDir, 'snapshots'));
  return found;
}

/**
 * A writer may fail (a cleanup that removes everything every second can remove a file
 * again right after its re-fetch), but only with the typed error naming what went
 * missing, never with a crash or a success over missing files.
 */
function checkWriters(runs: Array<{ code: number | null; stderr: string }>): void {
  for (const run of runs) {
    expect(run.code === 0 || run.code === 1, run.stderr).toBe(true);
    expect(run.stderr, run.stderr).not.toMatch(/E_INTERNAL|a bug in hubcache/);
    if (run.code === 1) expect(run.stderr).toMatch(/removed from the cache by another process/);
  }
}

describe('cleanup racing downloads', () => {
  it('a download linking a blob while a cleanup removes it: they exclude each other, no link dangles', async () => {
    const cacheDir = join(await makeTempDir(), 'hub');
    const env = { HF_ENDPOINT: origin.url };
    const first = await runCli({ args: ['download', 'acme/twin', '--revision', twinOld, '-q', '--cache-dir', cacheDir], env });
    expect(first.code, first.stderr).toBe(0);
    const plan = await planRm({ cacheDir, targets: [parseRmTarget({ text: `acme/twin@${twinOld}` })] });
    expect(plan.items.filter((i) => i.kind === 'blob')).toHaveLength(2);

    let download: ReturnType<typeof runCli> | undefined;
    await executePlan({
      cacheDir,
      plan,
      onStep: async (step) => {
        if (step.item.kind !== 'blob' || download) return;
        // One blob is gone, the other is next. A real writer now downloads the newer commit,
        // whose files are those very blobs: give it time to finish (it does, when nothing
        // stops it from linking the blob that is still there) before the cleanup goes on.
        download = runCli({ args: ['download', 'acme/twin', '--revision', twinNew, '--cache-dir', cacheDir, '--json'], env });
        await Promise.race([download, new Promise((r) => setTimeout(r, 4000))]);
      },
    });
    const run = await download!;
    expect(run.code, run.stderr).toBe(0);

    const repoDir = join(cacheDir, 'models--acme--twin');
    expect(await danglingLinks(repoDir)).toEqual([]);
    expect(await verifyErrors({ cacheDir })).toEqual([]);
    for (const name of ['a.bin', 'b.bin']) {
      expect((await stat(join(repoDir, 'snapshots', twinNew, name))).size).toBe(3000);
    }
  });

  it('prune and evict running against downloads of commits that share blobs leave no dangling link', async () => {
    const cacheDir = join(await makeTempDir(), 'hub');
    const env = { HF_ENDPOINT: origin.url };
    const cli = (args: string[]) => runCli({ args: [...args, '--cache-dir', cacheDir], env, timeoutMs: 120_000 });

    const first = await cli(['download', 'acme/race', '--revision', commitIds[0]!, '-q']);
    expect(first.code, first.stderr).toBe(0);

    let writerDone = false;
    const writer = (async () => {
      const runs: Array<{ code: number | null; stderr: string }> = [];
      try {
        // There and back through the history: old commits come back while newer ones are being cleaned.
        for (const commit of [...commitIds.slice(1), ...commitIds.slice(0, -1).reverse()]) {
          // One file at a time: the links to blobs already present are made one by one over the
          // whole run instead of in one burst, so they overlap the cleaners' blob removal.
          runs.push(await cli(['download', 'acme/race', '--revision', commit, '-q', '--max-workers', '1']));
        }
      } finally {
        writerDone = true;
      }
      return runs;
    })();
    const cleaner = (async () => {
      let rounds = 0;
      while (!writerDone) {
        // Both remove every revision (none has a ref), the one being downloaded included, so
        // the blobs of the previous commit it is about to link are exactly what goes.
        const args = rounds % 2 === 0 ? ['prune', '-y'] : ['evict', '--max-size', '0', '-y'];
        const run = await cli(args);
        expect(run.code === 0 || run.code === 1, `${args.join(' ')}: ${run.stderr}`).toBe(true);
        rounds += 1;
      }
      return rounds;
    })();
    const [runs, rounds] = await Promise.all([writer, cleaner]);
    expect(rounds).toBeGreaterThan(3);

    // One last download with nothing racing it, so the repo is there (with a ref, which
    // @huggingface/hub's scan needs) for the scanners to judge.
    const last = await cli(['download', 'acme/race', '-q']);
    expect(last.code, last.stderr).toBe(0);

    const repoDir = join(cacheDir, 'models--acme--race');
    expect(await lstat(repoDir).then(() => true)).toBe(true);
    expect(await danglingLinks(repoDir)).toEqual([]);
    expect(await verifyErrors({ cacheDir })).toEqual([]);

    const hfjs = await scanCacheDir(cacheDir);
    expect(hfjs.warnings.map((w) => w.message)).toEqual([]);
    expect(hfjs.repos.map((r) => r.id.name)).toEqual(['acme/race']);

    const python = pythonHub();
    if (!python) {
      console.warn('skipping the Python scan: no .venv-hub with huggingface_hub');
      checkWriters(runs);
      return;
    }
    const scan = pythonScan(python, cacheDir);
    expect(scan.error).toBeUndefined();
    expect(scan.warnings).toEqual([]);
    expect(scan.repos.map((r) => r.repo_id)).toEqual(['acme/race']);
    checkWriters(runs);
  }, 300_000);
});
