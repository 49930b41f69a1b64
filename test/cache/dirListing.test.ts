/**
 * The scan's two folder readers (the addon's listTree and the JavaScript
 * walker) must give the same listing, and so the same scan, on every shape a
 * cache takes: nested files, dangling, absolute and outside links, partial
 * downloads, copies, odd and non-UTF-8 names, fifos, links in blobs/, deep folders.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildSyntheticCache } from '../../bench/syntheticCache.js';
import { listBlobsDir, listRepoFolders, listSnapshotsTree, nativeListTrees, type DirListing } from '../../src/cache/dirListing.js';
import { scanCache } from '../../src/cache/scanCache.js';
import type { CacheWarning } from '../../src/cache/cacheScan.js';
import { makeTempDir } from '../helpers/tempDir.js';

const COMMIT = 'a'.repeat(40);
const OTHER_COMMIT = 'b'.repeat(40);

/**
 * Three well-formed repos, one holding every oddity the addon lists itself, and
 * one deeper than the addon's recursion limit (the JavaScript walker lists it).
 */
async function oddCache(): Promise<{ cacheDir: string; odd: string; deep: string }> {
  const cacheDir = join(await makeTempDir(), 'hub');
  buildSyntheticCache({ cacheDir, repos: 3, revisionsPerRepo: 2, filesPerRevision: 12, changedPerRevision: 1 });
  const odd = join(cacheDir, 'models--odd--repo');
  const blobs = join(odd, 'blobs');
  const snap = join(odd, 'snapshots', COMMIT);
  mkdirSync(join(snap, 'nested', 'deeper', 'deepest'), { recursive: true });
  mkdirSync(join(odd, 'refs'), { recursive: true });
  writeFileSync(join(odd, 'refs', 'main'), COMMIT);
  const blob = (name: string, bytes: string): void => writeFileSync(join(blobs, name), bytes);
  const link = (rel: string, target: string): void => symlinkSync(target, join(snap, rel));
  mkdirSync(blobs, { recursive: true });
  blob('1'.repeat(64), 'one');
  blob('2'.repeat(64), 'two two');
  blob('3'.repeat(40), 'git blob');
  blob(`${'4'.repeat(64)}.abc123.incomplete`, 'partial');
  blob(`${'5'.repeat(64)}.downloadInProgress`, 'llama partial');
  blob('.DS_Store', 'finder');
  mkdirSync(join(blobs, 'a-folder'));
  symlinkSync(join(cacheDir, 'models--odd--repo', 'blobs', '1'.repeat(64)), join(blobs, '6'.repeat(64)));
  symlinkSync('/nonexistent/elsewhere', join(blobs, '7'.repeat(64)));
  execFileSync('mkfifo', [join(blobs, 'a-fifo')]);

  link('model.safetensors', `../../blobs/${'1'.repeat(64)}`);
  link('nested/config.json', `../../../blobs/${'2'.repeat(64)}`);
  link('nested/deeper/deepest/tok.json', `../../../../../blobs/${'3'.repeat(40)}`);
  link('dangling.bin', `../../blobs/${'9'.repeat(64)}`);
  link('absolute.bin', join(blobs, '2'.repeat(64)));
  link('outside.bin', '../../../../etc/passwd');
  link('dotted.bin', `.././../blobs/${'1'.repeat(64)}`);
  link('linked-blob.bin', `../../blobs/${'6'.repeat(64)}`);
  link('broken-linked-blob.bin', `../../blobs/${'7'.repeat(64)}`);
  link('space name é ü 日本.bin', `../../blobs/${'2'.repeat(64)}`);
  link('line\nbreak.bin', `../../blobs/${'1'.repeat(64)}`);
  // Sorted by bytes, "Z" < "_" < "a" < "é" (0xC3) < "\u{1F600}" (0xF0): the order readdirSync gives.
  link('Z.bin', `../../blobs/${'1'.repeat(64)}`);
  link('_.bin', `../../blobs/${'1'.repeat(64)}`);
  link('\u{1F600}.bin', `../../blobs/${'1'.repeat(64)}`);
  writeFileSync(join(snap, 'copied.txt'), 'a copy, not a link');
  writeFileSync(join(snap, '.DS_Store'), 'finder');
  mkdirSync(join(snap, '.DS_Store-not-ignored'));
  writeFileSync(join(snap, '.DS_Store-not-ignored', 'x'), 'x');
  mkdirSync(join(snap, 'empty-folder'));
  execFileSync('mkfifo', [join(snap, 'nested', 'a-fifo')]);
  // A second revision sharing a blob; stray entries beside the revisions.
  mkdirSync(join(odd, 'snapshots', OTHER_COMMIT));
  symlinkSync(`../../blobs/${'1'.repeat(64)}`, join(odd, 'snapshots', OTHER_COMMIT, 'model.safetensors'));
  mkdirSync(join(odd, 'snapshots', 'not-a-commit', 'inside'), { recursive: true });
  writeFileSync(join(odd, 'snapshots', 'not-a-commit', 'inside', 'f'), 'f');
  writeFileSync(join(odd, 'snapshots', 'stray-file'), 'stray');
  symlinkSync(OTHER_COMMIT, join(odd, 'snapshots', 'c'.repeat(40)));
  writeFileSync(join(odd, 'snapshots', '.DS_Store'), 'finder');

  // Deeper than the addon's recursion limit: the JavaScript walker lists this repo's snapshots/.
  const deep = join(cacheDir, 'models--odd--deep');
  mkdirSync(join(deep, 'blobs'), { recursive: true });
  writeFileSync(join(deep, 'blobs', '1'.repeat(64)), 'one');
  const deepFolder = join(deep, 'snapshots', COMMIT, ...Array.from({ length: 70 }, (_, i) => `d${i}`));
  mkdirSync(deepFolder, { recursive: true });
  symlinkSync(`${'../'.repeat(72)}blobs/${'1'.repeat(64)}`, join(deepFolder, 'far.bin'));
  return { cacheDir, odd, deep };
}

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
