/**
 * A hub cache holding every shape the scan must read alike with the addon and
 * with the JavaScript walker (test/cache/dirListing.test.ts): three well-formed
 * repos, one repo with every oddity (nested files, dangling, absolute and
 * outside links, partial downloads, copies, odd names, fifos, links in blobs/,
 * stray entries in snapshots/), and one deeper than the addon's recursion limit.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildSyntheticCache } from '../../bench/syntheticCache.js';
import { makeTempDir } from './tempDir.js';

export const COMMIT = 'a'.repeat(40);
export const OTHER_COMMIT = 'b'.repeat(40);

/**
 * Three well-formed repos, one holding every oddity the addon lists itself, and
 * one deeper than the addon's recursion limit (the JavaScript walker lists it).
 */
export async function oddCache(params: { cacheDir?: string } = {}): Promise<{ cacheDir: string; odd: string; deep: string }> {
  const cacheDir = params.cacheDir ?? join(await makeTempDir(), 'hub');
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

