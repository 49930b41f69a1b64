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
import { listBlobsDir, listSnapshotTree, nativeListTree, type DirListing } from '../../src/cache/dirListing.js';
import { scanCache } from '../../src/cache/scanCache.js';
import type { CacheWarning } from '../../src/cache/cacheScan.js';
import { makeTempDir } from '../helpers/tempDir.js';

const COMMIT = 'a'.repeat(40);
const OTHER_COMMIT = 'b'.repeat(40);

/** A cache with one well-formed repo per synthetic build plus one repo holding every oddity. */
async function oddCache(): Promise<{ cacheDir: string; odd: string }> {
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
  execFileSync('mkfifo', [join(snap, 'nested', 'a-fifo')]);
  // Deeper than the addon's recursion limit: the JavaScript walker takes that revision over.
  const deep = join(odd, 'snapshots', OTHER_COMMIT, ...Array.from({ length: 70 }, (_, i) => `d${i}`));
  mkdirSync(deep, { recursive: true });
  symlinkSync(`${'../'.repeat(72)}blobs/${'1'.repeat(64)}`, join(deep, 'far.bin'));
  return { cacheDir, odd };
}

function plain(listing: DirListing): unknown {
  return { count: listing.count, fields: listing.fields.slice(0, 2 * listing.count), kinds: [...listing.kinds], numbers: [...listing.numbers] };
}

describe('dirListing: the addon and the JavaScript walker', () => {
  it('the addon is built with listTree (else the scan silently falls back to JavaScript)', () => {
    expect(nativeListTree()).toBeTypeOf('function');
  });

  it('list every blobs/ and snapshot folder alike, entry for entry and number for number', async () => {
    const { cacheDir } = await oddCache();
    let compared = 0;
    for (const repo of readdirSync(cacheDir).filter((name) => name.includes('--'))) {
      const blobsDir = join(cacheDir, repo, 'blobs');
      const warnings: CacheWarning[] = [];
      expect(plain(listBlobsDir({ dir: blobsDir, warnings }))).toEqual(plain(listBlobsDir({ dir: blobsDir, warnings, native: false })));
      for (const commit of readdirSync(join(cacheDir, repo, 'snapshots'))) {
        const dir = join(cacheDir, repo, 'snapshots', commit);
        expect(plain(listSnapshotTree({ dir, warnings }))).toEqual(plain(listSnapshotTree({ dir, warnings, native: false })));
        compared += 1;
      }
      expect(warnings).toEqual([]);
    }
    expect(compared).toBe(3 * 2 + 2);
  });

  it('the addon lists odd entries itself and declines what it cannot reproduce', async () => {
    const { odd } = await oddCache();
    const listTree = nativeListTree()!;
    const top = listTree(join(odd, 'snapshots', COMMIT), true, '.DS_Store');
    expect(top).toBeDefined();
    const names = top![0].split('\0').filter((_, i) => i % 2 === 0);
    expect(names).toContain('nested/deeper/deepest/tok.json');
    expect(names).toContain('line\nbreak.bin');
    expect(names).not.toContain('.DS_Store');
    expect(names.indexOf('Z.bin')).toBeLessThan(names.indexOf('_.bin'));
    expect(names.indexOf('space name é ü 日本.bin')).toBeLessThan(names.indexOf('\u{1F600}.bin'));
    // Too deep: declined. Missing: empty, as readDirOrWarn has it.
    expect(listTree(join(odd, 'snapshots', OTHER_COMMIT), true, '.DS_Store')).toBeUndefined();
    expect(listTree(join(odd, 'snapshots', 'c'.repeat(40)), true, '.DS_Store')?.[1]).toHaveLength(0);
    // A name that is not UTF-8 (Node would replace its bytes with U+FFFD): declined.
    const latin1 = Buffer.concat([Buffer.from(join(odd, 'snapshots', COMMIT, 'nested')), Buffer.from([0x2f, 0x63, 0x61, 0x66, 0xe9])]);
    writeFileSync(latin1, 'latin-1 name');
    expect(listTree(join(odd, 'snapshots', COMMIT), true, '.DS_Store')).toBeUndefined();
  });

  it('scanCache gives the same report with either walker, files and summary, warnings in the same order', async () => {
    const { cacheDir, odd } = await oddCache();
    writeFileSync(Buffer.concat([Buffer.from(join(odd, 'snapshots', COMMIT)), Buffer.from([0x2f, 0xff, 0xfe])]), 'not utf-8');
    for (const detail of ['files', 'summary'] as const) {
      const native = await scanCache({ cacheDir, detail, threads: 0 });
      const js = await scanCache({ cacheDir, detail, threads: 0, native: false });
      expect(native).toEqual(js);
      const oddRepo = native.repos.find((r) => r.folderName === 'models--odd--repo')!;
      expect(new Set(oddRepo.warnings.map((w) => w.code))).toEqual(
        new Set(['dangling-link', 'absolute-link', 'link-outside-repo', 'linked-blob', 'stray-entry']),
      );
      expect(oddRepo.incomplete.files).toHaveLength(2);
    }
  });
});
