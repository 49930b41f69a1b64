/**
 * evict on caches whose access times are set by hand: blob atime, the time a
 * snapshot link was made, and hubcache's own access record each count, the
 * newest wins, and exactly the least recently used revisions go.
 */
import { chmod, lutimes, readdir, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ACCESS_LOG_DIR, readAccessLog, recordAccess } from '../../src/cache/accessLog.js';
import { pinKey } from '../../src/maintenance/plan.js';
import { planEvict } from '../../src/maintenance/planEvict.js';
import { executePlan } from '../../src/maintenance/executePlan.js';
import { buildCache, type BuiltCache } from '../helpers/cacheBuilder.js';
import { makeTempDir } from '../helpers/tempDir.js';
import { diskBytes, hfjsWarnings, newWarnings, verifyErrors } from './cacheHealth.js';

const DAY = 86400_000;

/** Four repos of 1000 bytes each (one revision, one blob), all last touched `daysAgo` days ago. */
async function fourRepos(): Promise<BuiltCache> {
  const cacheDir = join(await makeTempDir(), 'hub');
  return buildCache({
    cacheDir,
    repos: ['a', 'b', 'c', 'd'].map((name, i) => ({
      repoId: `org/${name}`,
      revisions: [{ refs: ['main'], files: { 'w.bin': Buffer.alloc(1000, i + 1) } }],
    })),
  });
}

async function setUsed(params: { built: BuiltCache; repo: number; daysAgo: number }): Promise<void> {
  const file = params.built.repos[params.repo]!.revisions[0]!.files['w.bin']!;
  const at = new Date(Date.now() - params.daysAgo * DAY);
  await utimes(file.blobPath, at, at);
  await lutimes(file.snapshotPath, at, at);
}

describe('evict', () => {
  it('removes exactly the least recently used revisions to reach the budget', async () => {
    const built = await fourRepos();
    for (const [repo, daysAgo] of [[0, 4], [1, 3], [2, 2], [3, 1]] as const) await setUsed({ built, repo, daysAgo });
    const plan = await planEvict({ cacheDir: built.cacheDir, maxBytes: 2500 });
    expect(plan.revisions.map((r) => r.repo)).toEqual(['models--org--a', 'models--org--b']);
    expect(plan.budget).toMatchObject({ bytesBefore: 4000, bytesAfter: 2000, met: true, pinnedBytes: 0 });

    const before = await diskBytes({ dir: built.cacheDir });
    const warnings = await hfjsWarnings({ cacheDir: built.cacheDir });
    const result = await executePlan({ cacheDir: built.cacheDir, plan });
    expect(result.failed).toEqual([]);
    expect(result.bytesFreed).toBe(plan.totals.bytes);
    expect(before - (await diskBytes({ dir: built.cacheDir }))).toBe(plan.totals.bytes);
    expect(await verifyErrors({ cacheDir: built.cacheDir })).toEqual([]);
    expect(newWarnings({ before: warnings, after: await hfjsWarnings({ cacheDir: built.cacheDir }) })).toEqual([]);
    expect((await readdir(built.cacheDir)).filter((n) => n.startsWith('models--')).sort()).toEqual(['models--org--c', 'models--org--d']);
  });

  it('uses the newest of atime, link time and the access record, and never evicts pinned revisions', async () => {
    const built = await fourRepos();
    for (const [repo, daysAgo] of [[0, 4], [1, 3], [2, 2], [3, 5]] as const) await setUsed({ built, repo, daysAgo });
    // d's blob was last read 5 days ago, but its snapshot link was made yesterday: yesterday counts.
    const dLink = built.repos[3]!.revisions[0]!.files['w.bin']!.snapshotPath;
    await lutimes(dLink, new Date(Date.now() - DAY), new Date(Date.now() - DAY));
    // a was served by hubcache an hour ago (its atime is old: a noatime mount), so it is the most recent.
    const a = built.repos[0]!;
    await recordAccess({ cacheDir: built.cacheDir, repoFolder: a.paths.folderName, commit: a.revisions[0]!.commit, at: Date.now() - 3600_000 });
    const pinned = new Set([pinKey({ repo: built.repos[1]!.paths.folderName })]);
    const plan = await planEvict({ cacheDir: built.cacheDir, maxBytes: 2000, pinned });
    // Order by last use: b (3d, pinned), c (2d), d (1d), a (1h): c and d go.
    expect(plan.revisions.map((r) => r.repo)).toEqual(['models--org--c', 'models--org--d']);
    expect(plan.notes.join('\n')).toContain('pinned, never evicted: org/b@');
  });

  it('says so when pinned revisions alone exceed the budget', async () => {
    const built = await fourRepos();
    const pinned = new Set(built.repos.slice(0, 3).map((r) => pinKey({ repo: r.paths.folderName })));
    const plan = await planEvict({ cacheDir: built.cacheDir, maxBytes: 1500, pinned });
    expect(plan.revisions.map((r) => r.repo)).toEqual(['models--org--d']);
    expect(plan.budget).toMatchObject({ met: false, bytesAfter: 3000, pinnedBytes: 3000 });
    expect(plan.notes[0]).toContain('cannot be met');
  });

  it('keeps a blob shared with a kept revision and does not evict revisions that free nothing', async () => {
    const cacheDir = join(await makeTempDir(), 'hub');
    const big = Buffer.alloc(5000, 1);
    const built = await buildCache({
      cacheDir,
      repos: [
        {
          repoId: 'org/m',
          revisions: [
            { files: { 'w.bin': big } },
            { refs: ['main'], files: { 'w.bin': big, 'x.bin': Buffer.alloc(1000, 2) } },
          ],
        },
        { repoId: 'org/other', revisions: [{ refs: ['main'], files: { 'o.bin': Buffer.alloc(2000, 3) } }] },
      ],
    });
    const m = built.repos[0]!;
    const at = (days: number): Date => new Date(Date.now() - days * DAY);
    // The old revision of m shares its only blob with main: evicting it frees nothing.
    await lutimes(m.revisions[0]!.files['w.bin']!.snapshotPath, at(9), at(9));
    await lutimes(m.revisions[1]!.files['w.bin']!.snapshotPath, at(5), at(5));
    await lutimes(m.revisions[1]!.files['x.bin']!.snapshotPath, at(5), at(5));
    await utimes(m.revisions[1]!.files['w.bin']!.blobPath, at(5), at(5));
    await utimes(m.revisions[1]!.files['x.bin']!.blobPath, at(5), at(5));
    await setUsed2(built, at(7));
    const plan = await planEvict({ cacheDir, maxBytes: 6500 });
    // 8000 bytes: other (7d) goes first and is enough; m's old revision (9d) frees nothing alone, so it stays.
    expect(plan.revisions.map((r) => r.repo)).toEqual(['models--org--other']);
    expect(plan.budget).toMatchObject({ bytesBefore: 8000, bytesAfter: 6000, met: true });
  });
});

async function setUsed2(built: BuiltCache, at: Date): Promise<void> {
  const file = built.repos[1]!.revisions[0]!.files['o.bin']!;
  await utimes(file.blobPath, at, at);
  await lutimes(file.snapshotPath, at, at);
}

describe('access log', () => {
  it('records per repo and commit, throttles rewrites, and ignores bad names', async () => {
    const cacheDir = join(await makeTempDir(), 'hub');
    const commit = 'a'.repeat(40);
    await recordAccess({ cacheDir, repoFolder: 'models--org--m', commit, at: 1_000_000 });
    await recordAccess({ cacheDir, repoFolder: 'models--org--m', commit, at: 1_030_000 });
    await recordAccess({ cacheDir, repoFolder: '../../etc', commit, at: 5 });
    await recordAccess({ cacheDir, repoFolder: 'models--org--m', commit: 'not-a-commit', at: 5 });
    let log = await readAccessLog({ cacheDir });
    expect([...log.keys()]).toEqual(['models--org--m']);
    expect(log.get('models--org--m')?.get(commit)).toBe(1_000_000);
    await recordAccess({ cacheDir, repoFolder: 'models--org--m', commit, at: 1_100_000 });
    log = await readAccessLog({ cacheDir });
    expect(log.get('models--org--m')?.get(commit)).toBe(1_100_000);
    expect(await readdir(join(cacheDir, ACCESS_LOG_DIR))).toEqual(['models--org--m.json']);
  });

  it('never throws on a cache it cannot write', async () => {
    const cacheDir = join(await makeTempDir(), 'hub');
    await buildCache({ cacheDir, repos: [] });
    await chmod(cacheDir, 0o555);
    try {
      // As root the write may still succeed; either way it must resolve.
      await expect(recordAccess({ cacheDir, repoFolder: 'models--org--m', commit: 'b'.repeat(40) })).resolves.toBeUndefined();
      // A cache root that is a file: every write fails (ENOTDIR), even as root.
      await expect(recordAccess({ cacheDir: join(cacheDir, 'CACHEDIR.TAG'), repoFolder: 'models--org--m', commit: 'b'.repeat(40) })).resolves.toBeUndefined();
    } finally {
      await chmod(cacheDir, 0o755);
    }
  });
});
