/**
 * The scan's two folder readers (the addon's listTree and the JavaScript
 * walker) must give the same listing, and so the same scan, on every shape a
 * cache takes: nested files, dangling, absolute and outside links, partial
 * downloads, copies, odd and non-UTF-8 names, fifos, links in blobs/, deep folders.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildSyntheticCache } from '../../bench/syntheticCache.js';
import { listBlobsDir, listRepoFolders, listSnapshotsTree, nativeListTrees, type DirListing } from '../../src/cache/dirListing.js';
import { scanCache } from '../../src/cache/scanCache.js';
import type { CacheWarning } from '../../src/cache/cacheScan.js';
import { COMMIT, OTHER_COMMIT, oddCache } from '../helpers/oddCache.js';

function plain(listing: DirListing): unknown {
  return { count: listing.count, fields: listing.fields.slice(0, 2 * listing.count), kinds: [...listing.kinds], numbers: [...listing.numbers] };
}

describe('dirListing: the addon and the JavaScript walker', () => {
  it('the addon is built with listTrees (else the scan silently falls back to JavaScript)', () => {
    expect(nativeListTrees()).toBeTypeOf('function');
  });

  it('list every blobs/ and snapshots/ folder alike, entry for entry and number for number', async () => {
    const { cacheDir } = await oddCache();
    const repoPaths = readdirSync(cacheDir)
      .filter((name) => name.includes('--'))
      .map((name) => join(cacheDir, name));
    expect(repoPaths).toHaveLength(5);
    const batch = listRepoFolders({ repoPaths })!;
    repoPaths.forEach((repoPath, i) => {
      const warnings: CacheWarning[] = [];
      const blobs = { dir: join(repoPath, 'blobs'), warnings };
      const snapshots = { dir: join(repoPath, 'snapshots'), warnings };
      const js = { blobs: plain(listBlobsDir({ ...blobs, native: false })), snapshots: plain(listSnapshotsTree({ ...snapshots, native: false })) };
      expect(plain(listBlobsDir(blobs))).toEqual(js.blobs);
      expect(plain(listSnapshotsTree(snapshots))).toEqual(js.snapshots);
      expect(plain(batch[i]!.blobs!)).toEqual(js.blobs);
      // The too-deep repo is the one the addon declines.
      if (repoPath.endsWith('models--odd--deep')) expect(batch[i]!.snapshots).toBeUndefined();
      else expect(plain(batch[i]!.snapshots!)).toEqual(js.snapshots);
      expect(warnings).toEqual([]);
    });
  });

  it('the addon lists odd entries itself and declines what it cannot reproduce', async () => {
    const { odd, deep } = await oddCache();
    const listTrees = nativeListTrees()!;
    const snapshots = join(odd, 'snapshots');
    const [top] = listTrees([snapshots], true, '.DS_Store', 1);
    expect(top).toBeDefined();
    const names = top![0].split('\0').filter((_, i) => i % 2 === 0);
    expect(names).toContain(`${COMMIT}/nested/deeper/deepest/tok.json`);
    expect(names).toContain(`${COMMIT}/line\nbreak.bin`);
    expect(names).toContain(`${COMMIT}/empty-folder`);
    expect(names).not.toContain('.DS_Store');
    expect(names).not.toContain(`${COMMIT}/.DS_Store`);
    expect(names.indexOf(`${COMMIT}/Z.bin`)).toBeLessThan(names.indexOf(`${COMMIT}/_.bin`));
    expect(names.indexOf(`${COMMIT}/space name é ü 日本.bin`)).toBeLessThan(names.indexOf(`${COMMIT}/\u{1F600}.bin`));
    // Too deep: declined. Missing: empty, as readDirOrWarn has it. Several at once, on two threads, in order.
    const [deepTree, missing, again] = listTrees([join(deep, 'snapshots'), join(odd, 'nothing-here'), snapshots], true, '.DS_Store', 2);
    expect(deepTree).toBeUndefined();
    expect(missing?.[1]).toHaveLength(0);
    expect(again).toEqual(top);
    // A name that is not UTF-8 (Node would replace its bytes with U+FFFD): declined.
    const latin1 = Buffer.concat([Buffer.from(join(snapshots, COMMIT, 'nested')), Buffer.from([0x2f, 0x63, 0x61, 0x66, 0xe9])]);
    writeFileSync(latin1, 'latin-1 name');
    expect(listTrees([snapshots], true, '.DS_Store', 1)[0]).toBeUndefined();
  });

  it('scanCache gives the same report with either walker, files and summary, warnings in the same order', async () => {
    const { cacheDir } = await oddCache();
    // A repo with a name that is not UTF-8: the addon declines it, the JavaScript walker lists it.
    buildSyntheticCache({ cacheDir: join(cacheDir, 'tmp'), repos: 1, revisionsPerRepo: 1, filesPerRevision: 3 });
    const latin1Repo = join(cacheDir, 'models--odd--latin1');
    execFileSync('mv', [join(cacheDir, 'tmp', 'models--bench-org--model-0'), latin1Repo]);
    execFileSync('rm', ['-r', join(cacheDir, 'tmp')]);
    const commit = readdirSync(join(latin1Repo, 'snapshots'))[0]!;
    writeFileSync(Buffer.concat([Buffer.from(join(latin1Repo, 'snapshots', commit)), Buffer.from([0x2f, 0xff, 0xfe])]), 'not utf-8');
    for (const detail of ['files', 'summary'] as const) {
      const native = await scanCache({ cacheDir, detail, threads: 0 });
      const js = await scanCache({ cacheDir, detail, threads: 0, native: false });
      expect(native).toEqual(js);
      expect(native.repos).toHaveLength(6);
      const oddRepo = native.repos.find((r) => r.folderName === 'models--odd--repo')!;
      expect(new Set(oddRepo.warnings.map((w) => w.code))).toEqual(
        new Set(['dangling-link', 'absolute-link', 'link-outside-repo', 'linked-blob', 'stray-entry']),
      );
      expect(oddRepo.revisions.map((r) => r.commit).sort()).toEqual([COMMIT, OTHER_COMMIT]);
      expect(oddRepo.incomplete.files).toHaveLength(2);
      expect(native.repos.find((r) => r.folderName === 'models--odd--deep')!.revisions[0]!.nbFiles).toBe(1);
    }
  });
});
