/**
 * backup -> restore through the real CLI: the restored cache verifies clean and
 * lists exactly like the original (hubcache, @huggingface/hub and Python
 * scans); a cache that already has some blobs gets only the missing ones; a
 * flipped byte costs exactly the files of that blob; refs are merged, moved
 * only with --force; plain `tar xf` of a backup is a valid cache.
 */
import { spawnSync } from 'node:child_process';
import { unlinkSync } from 'node:fs';
import { mkdir, readFile, readlink, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { backupCache } from '../../src/archive/backupCache.js';
import { buildCache, buildSampleCache, fakeCommit, type BuiltCache } from '../helpers/cacheBuilder.js';
import { pythonHub, pythonScan } from '../helpers/pythonHub.js';
import { CLI_PATH, runCli } from '../helpers/runCli.js';
import { makeTempDir } from '../helpers/tempDir.js';
import { hasGnuTar, hfjsScan, listTree, lsForCompare } from './archiveHelpers.js';

let root: string;
let source: BuiltCache;
let archive: string;

beforeAll(async () => {
  root = await makeTempDir({ prefix: 'hubcache-archive-' });
  source = await buildSampleCache({ cacheDir: join(root, 'source') });
  // A third repo with a bigger LFS blob (several read chunks) and a nested ref.
  await buildCache({
    cacheDir: join(root, 'source'),
    repos: [{ repoId: 'org/big', revisions: [{ refs: ['main', 'refs/pr/2'], files: { 'w.safetensors': Buffer.alloc(3 * 1024 * 1024 + 17, 9), 'a/b/c.txt': 'nested' } }] }],
  });
  archive = join(root, 'all.tar');
  const backup = await runCli({ args: ['backup', archive, '--json', '--cache-dir', source.cacheDir] });
  expect(backup.stderr).toBe('');
  expect(backup.code).toBe(0);
  expect(backup.json()).toMatchObject({ repos: 3, blobs: 8, vanished: [] });
});

describe('backup then restore', () => {
  it('restores into an empty cache: verify clean, ls --json, @huggingface/hub and Python scans equal to the original', async () => {
    const target = join(root, 'restored');
    const restore = await runCli({ args: ['restore', archive, '--json', '--cache-dir', target] });
    expect(restore.code, restore.stderr).toBe(0);
    const report = restore.json();
    expect(report).toMatchObject({ format: 'hubcache-backup', ok: true, problems: [], blobs: { written: 8, present: 0, refused: 0 } });
    // Before verify: its reads would move the access times `ls` shows.
    expect(await lsForCompare(target)).toEqual(await lsForCompare(source.cacheDir));
    expect(await hfjsScan(target)).toEqual(await hfjsScan(source.cacheDir));
    const verify = await runCli({ args: ['verify', '--json', '--cache-dir', target] });
    expect(verify.code, verify.stdout).toBe(0);
    const python = pythonHub();
    if (python) expect(pythonScan(python, target)).toEqual(pythonScan(python, source.cacheDir));
    else console.warn('python huggingface_hub not found: Python scan comparison skipped');
    // Nothing but the cache layout and hubcache's own folder: no temp or partial left behind.
    const tree = await listTree(target);
    expect(tree.filter((p) => p.endsWith('.incomplete') || p.includes('/tmp/'))).toEqual([]);
  });

  it('backs up only the repos and revisions asked for', async () => {
    const out = join(root, 'one.tar');
    const model = source.repos[0]!;
    const backup = await runCli({ args: ['backup', out, 'org/model@v1.0', '--json', '--cache-dir', source.cacheDir] });
    expect(backup.code, backup.stderr).toBe(0);
    expect(backup.json()).toMatchObject({ repos: 1, revisions: 1, files: 2 });
    const target = join(root, 'one');
    const restore = await runCli({ args: ['restore', out, '--json', '--cache-dir', target] });
    expect(restore.code, restore.stderr).toBe(0);
    const ls = (await lsForCompare(target)) as Array<{ repoId: string; refs: Record<string, string> }>;
    expect(ls.map((r) => r.repoId)).toEqual(['org/model']);
    expect(ls[0]!.refs).toEqual({ 'refs/pr/1': model.revisions[1]!.commit, 'v1.0': model.revisions[1]!.commit });
    const missing = await runCli({ args: ['backup', join(root, 'x.tar'), 'org/nope', '--cache-dir', source.cacheDir] });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('org/nope');
  });

  it('writes only the blobs a cache lacks, and keeps those it has', async () => {
    const target = join(root, 'partial');
    const first = await runCli({ args: ['restore', archive, 'dataset/org/data', '--json', '--cache-dir', target] });
    expect(first.code, first.stderr).toBe(0);
    expect(first.json()).toMatchObject({ blobs: { written: 2, present: 0 }, repos: ['datasets--org--data'] });
    const dataBlob = source.repos[1]!.revisions[0]!.files['data/train.parquet']!.etag;
    const blobPath = join(target, 'datasets--org--data', 'blobs', dataBlob);
    const before = await stat(blobPath);
    const second = await runCli({ args: ['restore', archive, '--json', '--cache-dir', target] });
    expect(second.code, second.stderr).toBe(0);
    expect(second.json()).toMatchObject({ blobs: { written: 6, present: 2, refused: 0 }, ok: true });
    expect((await stat(blobPath)).ino).toBe(before.ino);
    expect(await lsForCompare(target)).toEqual(await lsForCompare(source.cacheDir));
  });

  it('refuses and names the one file whose blob has a flipped byte; everything else restores; exit 1', async () => {
    const bytes = await readFile(archive);
    // model.gguf is 4096 bytes of 7s: flip one byte in the middle of it.
    const at = bytes.indexOf(Buffer.alloc(4096, 7));
    expect(at).toBeGreaterThan(0);
    bytes[at + 2000] = 8;
    const damaged = join(root, 'flipped.tar');
    await writeFile(damaged, bytes);
    const target = join(root, 'flipped');
    const restore = await runCli({ args: ['restore', damaged, '--json', '--cache-dir', target] });
    expect(restore.code).toBe(1);
    const report = restore.json();
    const gguf = source.repos[0]!.revisions[0]!.files['model.gguf']!;
    expect(report.problems).toHaveLength(1);
    expect(report.problems[0]).toMatchObject({ code: 'hash-mismatch', entry: `models--org--model/blobs/${gguf.etag}` });
    expect(report.problems[0].message).toContain('model.gguf');
    expect(report.blobs).toMatchObject({ written: 7, refused: 1 });
    const verify = await runCli({ args: ['verify', '--json', '--cache-dir', target] });
    expect(verify.code, verify.stdout).toBe(0);
    await expect(stat(join(target, 'models--org--model', 'blobs', gguf.etag))).rejects.toThrow();
    await expect(readlink(join(target, 'models--org--model', 'snapshots', source.repos[0]!.revisions[0]!.commit, 'config.json'))).resolves.toMatch(/^\.\.\/\.\.\/blobs\//);
  });

  it('merges refs: a ref pointing elsewhere is kept (and said) unless --force', async () => {
    const target = join(root, 'refs');
    const other = fakeCommit('local');
    await buildCache({ cacheDir: target, repos: [{ repoId: 'org/model', revisions: [{ commit: other, refs: ['main'], files: { 'local.txt': 'mine' } }] }] });
    const kept = await runCli({ args: ['restore', archive, 'org/model', '--json', '--cache-dir', target] });
    expect(kept.code, kept.stderr).toBe(0);
    const main = kept.json().refs.find((r: { ref: string }) => r.ref === 'main');
    expect(main).toMatchObject({ status: 'kept', current: other });
    expect(kept.stderr).toContain('--force');
    expect(await readFile(join(target, 'models--org--model', 'refs', 'main'), 'utf8')).toBe(other);
    const forced = await runCli({ args: ['restore', archive, 'org/model', '--force', '--json', '--cache-dir', target] });
    expect(forced.json().refs.find((r: { ref: string }) => r.ref === 'main')).toMatchObject({ status: 'moved', current: other });
    expect(await readFile(join(target, 'models--org--model', 'refs', 'main'), 'utf8')).toBe(source.repos[0]!.revisions[0]!.commit);
  });

  it('--dry-run reads and hashes everything and writes nothing', async () => {
    const target = join(root, 'dry');
    const dry = await runCli({ args: ['restore', archive, '--dry-run', '--json', '--cache-dir', target] });
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.json()).toMatchObject({ dryRun: true, ok: true, blobs: { written: 8 } });
    expect(await listTree(target)).toEqual([]);
  });

  it('streams through a pipe (backup - | restore -), gzip detected on restore', async () => {
    const target = join(root, 'piped');
    const node = process.execPath;
    const pipe = spawnSync('bash', ['-c', `set -o pipefail; "${node}" "${CLI_PATH}" backup - --gzip --cache-dir "${source.cacheDir}" | "${node}" "${CLI_PATH}" restore - --json --cache-dir "${target}"`], {
      encoding: 'utf8',
      env: { ...process.env, HF_HUB_DISABLE_PROGRESS_BARS: '1' },
    });
    expect(pipe.status, pipe.stderr).toBe(0);
    expect(JSON.parse(pipe.stdout)).toMatchObject({ gzip: true, ok: true, blobs: { written: 8 } });
    expect(await lsForCompare(target)).toEqual(await lsForCompare(source.cacheDir));
  });

  it('a blob removed mid-backup is left out with its links, recorded at the end, and restore says so', async () => {
    const cacheDir = join(root, 'vanishing');
    const built = await buildCache({ cacheDir, repos: [{ repoId: 'org/two', revisions: [{ refs: ['main'], files: { 'a.txt': 'first file', 'b.txt': 'second file' } }] }] });
    const files = Object.values(built.repos[0]!.revisions[0]!.files).sort((x, y) => (x.etag < y.etag ? -1 : 1));
    const [first, second] = [files[0]!, files[1]!];
    const out = join(root, 'vanishing.tar');
    const warnings: string[] = [];
    let removed = false;
    const report = await backupCache({
      cacheDir,
      output: out,
      // While the first blob is copied, a cleanup removes the second (blobs go in name order).
      onProgress: () => {
        if (!removed) {
          removed = true;
          unlinkSync(second.blobPath);
        }
      },
      onWarning: (message) => warnings.push(message),
    });
    expect(report.vanished).toEqual([{ folder: 'models--org--two', blob: second.etag }]);
    expect(warnings.join('\n')).toContain(second.etag);
    const target = join(root, 'vanished');
    const restore = await runCli({ args: ['restore', out, '--json', '--cache-dir', target] });
    expect(restore.code, restore.stdout).toBe(0);
    expect(restore.stderr).toContain('left the source cache during the backup');
    expect(restore.json()).toMatchObject({ ok: true, blobs: { written: 1 }, links: 1 });
    const commit = built.repos[0]!.revisions[0]!.commit;
    await expect(readlink(join(target, 'models--org--two', 'snapshots', commit, first.path))).resolves.toBe(`../../blobs/${first.etag}`);
    const verify = await runCli({ args: ['verify', '--json', '--cache-dir', target] });
    expect(verify.code, verify.stdout).toBe(0);
  });

  it('plain `tar xf` of a backup gives a valid hub cache (hubcache verify and the Python scan)', async () => {
    if (!hasGnuTar()) return void console.warn('GNU tar not found: skipped');
    const target = join(root, 'tar-xf');
    await mkdir(target);
    const tar = spawnSync('/bin/tar', ['xf', archive, '-C', target], { encoding: 'utf8' });
    expect(tar.status, tar.stderr).toBe(0);
    const verify = await runCli({ args: ['verify', '--json', '--cache-dir', target] });
    expect(verify.code, verify.stdout).toBe(0);
    expect(await hfjsScan(target)).toEqual(await hfjsScan(source.cacheDir));
    const python = pythonHub();
    if (python) expect(pythonScan(python, target)).toEqual(pythonScan(python, source.cacheDir));
    // GNU tar lists it too: the index first.
    const list = spawnSync('/bin/tar', ['tf', archive], { encoding: 'utf8' });
    expect(list.stdout.split('\n')[0]).toBe('.locks/.hubcache/backup-index.json');
  });
});
