/**
 * rm, prune and gc on real caches built by the test helpers: each plan is run,
 * then the cache must verify clean, @huggingface/hub's scan must warn about
 * nothing new, and the bytes that left the disk must be the plan's bytes.
 */
import { access, link, lstat, mkdir, readFile, readdir, utimes, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { acquireLock } from '../../src/cache/lock.js';
import { repoPaths } from '../../src/cache/repoPaths.js';
import { isHubcacheError } from '../../src/errors.js';
import { executePlan, type ExecuteResult } from '../../src/maintenance/executePlan.js';
import { pinKey, type Plan } from '../../src/maintenance/plan.js';
import { planGc } from '../../src/maintenance/planGc.js';
import { planPrune } from '../../src/maintenance/planPrune.js';
import { planRm } from '../../src/maintenance/planRm.js';
import { parseRmTarget } from '../../src/maintenance/rmTarget.js';
import { partialStatePath } from '../../src/download/adoptPartial.js';
import { buildCache, buildSampleCache, fakeCommit, sha256, type BuiltCache } from '../helpers/cacheBuilder.js';
import { makeTempDir } from '../helpers/tempDir.js';
import { diskBytes, hfjsWarnings, newWarnings, verifyErrors } from './cacheHealth.js';

const exists = (path: string): Promise<boolean> => access(path).then(() => true, () => false);
const lexists = (path: string): Promise<boolean> => lstat(path).then(() => true, () => false);
const OLD = new Date(Date.now() - 3 * 86400_000);

/** Runs the plan and checks the three things every maintenance run must leave true. */
async function runChecked(params: { cacheDir: string; plan: Plan }): Promise<ExecuteResult> {
  const { cacheDir, plan } = params;
  const bytesBefore = await diskBytes({ dir: cacheDir });
  const warningsBefore = await hfjsWarnings({ cacheDir });
  const result = await executePlan({ cacheDir, plan });
  expect(result.failed).toEqual([]);
  expect(result.skipped).toEqual([]);
  expect(await verifyErrors({ cacheDir })).toEqual([]);
  expect(newWarnings({ before: warningsBefore, after: await hfjsWarnings({ cacheDir }) })).toEqual([]);
  expect(result.bytesFreed).toBe(plan.totals.bytes);
  expect(bytesBefore - (await diskBytes({ dir: cacheDir }))).toBe(plan.totals.bytes);
  return result;
}

async function sample(): Promise<BuiltCache> {
  return buildSampleCache({ cacheDir: join(await makeTempDir(), 'hub') });
}

function rm(cacheDir: string, ...texts: string[]): Promise<Plan> {
  return planRm({ cacheDir, targets: texts.map((text) => parseRmTarget({ text })) });
}

describe('rm', () => {
  it('removes one revision and its refs; blobs shared with the kept revision stay', async () => {
    const built = await sample();
    const model = built.repos[0]!;
    const [main, v1] = model.revisions as [BuiltCache['repos'][0]['revisions'][0], BuiltCache['repos'][0]['revisions'][0]];
    const plan = await rm(built.cacheDir, 'org/model@v1.0');
    expect(plan.revisions.map((r) => r.commit)).toEqual([v1.commit]);
    // v1.0's config is its own; model.gguf is shared with main and must stay.
    expect(plan.items.filter((i) => i.kind === 'blob').map((i) => i.path)).toEqual([v1.files['config.json']!.blobPath]);
    await runChecked({ cacheDir: built.cacheDir, plan });
    expect(await exists(v1.files['model.gguf']!.blobPath)).toBe(true);
    expect(await readFile(main.files['model.gguf']!.snapshotPath)).toEqual(Buffer.alloc(4096, 7));
    expect(await lexists(model.paths.snapshot(v1.commit))).toBe(false);
    // refs/pr/1 pointed to the same commit: it goes too, and so do the folders it leaves empty.
    expect(await readdir(model.paths.refsDir)).toEqual(['main']);
  });

  it('removes a whole repo, a single file, and a commit in every repo that has it', async () => {
    const cacheDir = join(await makeTempDir(), 'hub');
    const shared = fakeCommit('same commit in two repos');
    const built = await buildCache({
      cacheDir,
      repos: [
        { repoId: 'a/one', revisions: [{ commit: shared, refs: ['main'], files: { 'x.json': 'x', 'sub/deep/y.bin': Buffer.alloc(300, 1) } }] },
        { repoId: 'b/two', revisions: [{ commit: shared, files: { 'z.txt': 'z' } }, { refs: ['main'], files: { 'z.txt': 'zz' } }] },
        { repoType: 'dataset', repoId: 'c/three', revisions: [{ refs: ['main'], files: { 'd.parquet': Buffer.alloc(500, 2) } }] },
      ],
    });
    const file = await rm(cacheDir, 'a/one@main:sub/deep/y.bin');
    await runChecked({ cacheDir, plan: file });
    expect(await lexists(join(built.repos[0]!.paths.snapshot(shared), 'sub'))).toBe(false);
    expect(await exists(built.repos[0]!.paths.snapshotFile(shared, 'x.json'))).toBe(true);

    const byCommit = await rm(cacheDir, shared);
    expect(byCommit.revisions.map((r) => r.repo).sort()).toEqual(['models--a--one', 'models--b--two']);
    await runChecked({ cacheDir, plan: byCommit });
    // a/one had only that revision, so the repo folder went with it; b/two keeps main.
    expect(await lexists(built.repos[0]!.paths.repoDir)).toBe(false);
    expect(await readdir(built.repos[1]!.paths.snapshotsDir)).toEqual([built.repos[1]!.revisions[1]!.commit]);

    const repo = await rm(cacheDir, 'dataset/c/three');
    await runChecked({ cacheDir, plan: repo });
    expect(await lexists(built.repos[2]!.paths.repoDir)).toBe(false);
  });

  it('refuses the whole command when one target is not cached, and validates targets', async () => {
    const built = await sample();
    const before = await diskBytes({ dir: built.cacheDir });
    const err = await rm(built.cacheDir, 'org/model@v1.0', 'org/model@nope').catch((e: unknown) => e);
    expect(isHubcacheError(err, 'E_NOT_CACHED')).toBe(true);
    expect((err as Error).message).toContain('nothing was removed');
    const dataset = await rm(built.cacheDir, 'org/data').catch((e: unknown) => e);
    expect((dataset as { hint?: string }).hint).toContain('dataset/org/data');
    expect(await diskBytes({ dir: built.cacheDir })).toBe(before);
    for (const bad of ['org/../x', 'org/name@a..b', 'org/name@main:../etc/passwd', 'org/name@main:/abs']) {
      const parsed = (() => {
        try {
          return parseRmTarget({ text: bad });
        } catch (e) {
          return e;
        }
      })();
      expect(isHubcacheError(parsed) && (parsed as { exitCode: number }).exitCode).toBe(2);
    }
  });

  it('keeps pinned revisions even when named', async () => {
    const built = await sample();
    const v1 = built.repos[0]!.revisions[1]!;
    const plan = await planRm({ cacheDir: built.cacheDir, targets: [parseRmTarget({ text: 'org/model' })], pinned: new Set([pinKey({ repo: 'models--org--model', commit: v1.commit })]) });
    expect(plan.revisions.map((r) => r.commit)).toEqual([built.repos[0]!.revisions[0]!.commit]);
    expect(plan.notes.join('\n')).toContain('pinned');
    await runChecked({ cacheDir: built.cacheDir, plan });
    expect(await exists(v1.files['model.gguf']!.snapshotPath)).toBe(true);
  });

  it('counts a blob hard-linked into two repos only when its last link goes', async () => {
    const cacheDir = join(await makeTempDir(), 'hub');
    const content = Buffer.alloc(10_000, 9);
    const built = await buildCache({
      cacheDir,
      repos: [
        { repoId: 'a/base', revisions: [{ refs: ['main'], files: { 'w.safetensors': content } }] },
        { repoId: 'b/tune', revisions: [{ refs: ['main'], files: { 'w.safetensors': content, 'extra.json': '{}' } }] },
      ],
    });
    const blobA = built.repos[0]!.revisions[0]!.files['w.safetensors']!.blobPath;
    const blobB = built.repos[1]!.revisions[0]!.files['w.safetensors']!.blobPath;
    // What dedupe leaves: one inode in both repos.
    await link(blobA, `${blobB}.new`);
    await import('node:fs/promises').then((fs) => fs.rename(`${blobB}.new`, blobB));
    const first = await rm(cacheDir, 'a/base');
    expect(first.items.find((i) => i.path === blobA)?.bytes).toBe(0);
    await runChecked({ cacheDir, plan: first });
    const second = await rm(cacheDir, 'b/tune');
    expect(second.items.find((i) => i.path === blobB)?.bytes).toBe(10_000);
    await runChecked({ cacheDir, plan: second });
  });

  it('frees the bytes of the no-symlink layout', async () => {
    const built = await buildSampleCache({ cacheDir: join(await makeTempDir(), 'hub'), layout: 'copy' });
    const plan = await rm(built.cacheDir, 'org/model@v1.0');
    expect(plan.items.filter((i) => i.kind === 'file').length).toBe(2);
    expect(plan.totals.bytes).toBeGreaterThan(4096);
    await runChecked({ cacheDir: built.cacheDir, plan });
  });
});

describe('prune', () => {
  it('removes unreferenced revisions and abandoned partials; keeps pinned, locked and fresh ones', async () => {
    const cacheDir = join(await makeTempDir(), 'hub');
    const pinnedCommit = fakeCommit('pinned');
    const built = await buildCache({
      cacheDir,
      repos: [
        {
          repoId: 'a/model',
          revisions: [
            { files: { 'w.gguf': Buffer.alloc(2000, 1), 'old.json': 'old' } },
            { refs: ['main'], files: { 'w.gguf': Buffer.alloc(2000, 1), 'new.json': 'new' } },
          ],
        },
        { repoId: 'b/by-commit', revisions: [{ files: { 'f.bin': Buffer.alloc(700, 3) } }] },
        { repoId: 'c/pinned', revisions: [{ commit: pinnedCommit, files: { 'p.bin': Buffer.alloc(100, 4) } }] },
      ],
    });
    const a = built.repos[0]!;
    const etag = 'e'.repeat(64);
    const abandoned = join(a.paths.blobsDir, `${etag}.1a2b3c4d.incomplete`);
    const fresh = join(a.paths.blobsDir, `${'f'.repeat(64)}.downloadInProgress`);
    const locked = join(a.paths.blobsDir, `${'d'.repeat(64)}.incomplete`);
    for (const path of [abandoned, fresh, locked]) await writeFile(path, Buffer.alloc(1234, 5));
    for (const path of [abandoned, locked]) await utimes(path, OLD, OLD);
    // hubcache's downloader keeps a progress record per partial: it must go with its partial.
    const record = partialStatePath({ cacheDir, repoFolder: a.paths.folderName, partialPath: abandoned });
    await mkdir(dirname(record), { recursive: true });
    await writeFile(record, Buffer.alloc(4096 + 24));
    const lock = await acquireLock({ path: a.paths.lock('d'.repeat(64)) });
    try {
      const plan = await planPrune({ cacheDir, pinned: new Set([pinKey({ repo: 'models--c--pinned' })]) });
      expect(plan.revisions.map((r) => r.commit).sort()).toEqual([a.revisions[0]!.commit, built.repos[1]!.revisions[0]!.commit].sort());
      expect(plan.items.filter((i) => i.kind === 'partial').map((i) => i.path)).toEqual([abandoned]);
      expect(plan.items.find((i) => i.path === abandoned)?.bytes).toBe(1234 + 4096 + 24);
      expect(plan.notes.join('\n')).toMatch(/holds their lock[\s\S]*less than 60 min/);
      await runChecked({ cacheDir, plan });
    } finally {
      await lock.release();
    }
    expect(await lexists(record)).toBe(false);
    expect(await exists(locked)).toBe(true);
    expect(await exists(fresh)).toBe(true);
    // The shared blob stays for main; the old revision's own blob is gone.
    expect(await exists(a.revisions[1]!.files['w.gguf']!.snapshotPath)).toBe(true);
    expect(await lexists(a.revisions[0]!.files['old.json']!.blobPath)).toBe(false);
    expect(await lexists(built.repos[1]!.paths.repoDir)).toBe(false);
    expect(await exists(built.repos[2]!.paths.snapshot(pinnedCommit))).toBe(true);
  });
});

describe('gc', () => {
  it('removes unlinked blobs, empty folders, old temp files and leftovers of removed revisions; keeps fresh ones', async () => {
    const cacheDir = join(await makeTempDir(), 'hub');
    const built = await buildCache({ cacheDir, repos: [{ repoId: 'a/model', revisions: [{ refs: ['main'], files: { 'w.gguf': Buffer.alloc(1500, 1), 'c.json': '{}' } }] }] });
    const paths = built.repos[0]!.paths;
    const main = built.repos[0]!.revisions[0]!.commit;
    const gone = fakeCommit('removed long ago');
    const orphanOld = join(paths.blobsDir, sha256(Buffer.alloc(800, 1)));
    const orphanFresh = join(paths.blobsDir, sha256(Buffer.alloc(900, 1)));
    await writeFile(orphanOld, Buffer.alloc(800, 1));
    await writeFile(orphanFresh, Buffer.alloc(900, 1));
    const temp = join(paths.refsDir, 'main.0a1b2c3d.tmp');
    await writeFile(temp, main);
    await mkdir(join(paths.noExistDir, gone, 'sub'), { recursive: true });
    await writeFile(join(paths.noExistDir, gone, 'sub', 'missing.json'), '');
    await mkdir(join(paths.noExistDir, main), { recursive: true });
    await writeFile(join(paths.noExistDir, main, 'adapter_config.json'), '');
    await mkdir(join(paths.repoDir, 'trees'), { recursive: true });
    await writeFile(join(paths.repoDir, 'trees', `${gone}.json`), '[]');
    await writeFile(join(paths.repoDir, 'trees', `${main}.json`), '[]');
    const emptyNested = join(paths.snapshot(main), 'empty', 'deeper');
    await mkdir(emptyNested, { recursive: true });
    const freshEmpty = join(paths.snapshot(main), 'fresh-empty');
    const staleRecord = partialStatePath({ cacheDir, repoFolder: paths.folderName, partialPath: join(paths.blobsDir, `${'c'.repeat(64)}.00000000.incomplete`) });
    await mkdir(dirname(staleRecord), { recursive: true });
    await writeFile(staleRecord, Buffer.alloc(4120));
    for (const path of [orphanOld, temp, staleRecord, emptyNested, dirname(emptyNested)]) await utimes(path, OLD, OLD);
    await mkdir(freshEmpty);

    const plan = await planGc({ cacheDir, minAgeMs: 60_000 });
    const byKind = (kind: string): string[] => plan.items.filter((i) => i.kind === kind).map((i) => i.path).sort();
    expect(byKind('blob')).toEqual([orphanOld]);
    expect(byKind('temp')).toEqual([temp, staleRecord].sort());
    expect(byKind('noExist')).toEqual([join(paths.noExistDir, gone)]);
    expect(byKind('tree')).toEqual([join(paths.repoDir, 'trees', `${gone}.json`)]);
    expect(byKind('folder')).toEqual([dirname(emptyNested)]);
    expect(plan.notes.join('\n')).toContain('--min-age 0');
    await runChecked({ cacheDir, plan });
    expect(await exists(orphanFresh)).toBe(true);
    expect(await exists(freshEmpty)).toBe(true);
    expect(await exists(join(paths.noExistDir, main, 'adapter_config.json'))).toBe(true);
    expect(await exists(join(paths.repoDir, 'trees', `${main}.json`))).toBe(true);
    // With no age limit the rest goes too, and a second gc has nothing left to do.
    await runChecked({ cacheDir, plan: await planGc({ cacheDir, minAgeMs: 0 }) });
    expect(await exists(orphanFresh)).toBe(false);
    expect((await planGc({ cacheDir, minAgeMs: 0 })).items).toEqual([]);
  });

  it('removes a repo folder that holds nothing at all', async () => {
    const cacheDir = join(await makeTempDir(), 'hub');
    const paths = repoPaths({ cacheDir, repoType: 'model', repoId: 'a/empty' });
    await buildCache({ cacheDir, repos: [{ repoId: 'b/full', revisions: [{ refs: ['main'], files: { 'x.json': 'x' } }] }] });
    for (const dir of [paths.blobsDir, paths.refsDir, paths.snapshotsDir]) await mkdir(dir, { recursive: true });
    for (const dir of [paths.blobsDir, paths.refsDir, paths.snapshotsDir, paths.repoDir]) await utimes(dir, OLD, OLD);
    const plan = await planGc({ cacheDir, minAgeMs: 60_000 });
    expect(plan.items.map((i) => i.path)).toEqual([paths.repoDir]);
    await runChecked({ cacheDir, plan });
    expect(await lexists(paths.repoDir)).toBe(false);
  });
});
