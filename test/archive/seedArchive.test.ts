/**
 * The seed's own backups: `tar czf` of a whole HF_HOME (token, xet folder,
 * locks, partial downloads and all), taken from a deep path, restores into an
 * empty cache without an index: every blob is verified against its name, the
 * result verifies clean and lists like the original. A damaged blob in such
 * an archive is refused and named.
 */
import { spawnSync } from 'node:child_process';
import { link, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildCache, buildSampleCache, fakeCommit, type BuiltCache } from '../helpers/cacheBuilder.js';
import { pythonHub, pythonScan } from '../helpers/pythonHub.js';
import { runCli } from '../helpers/runCli.js';
import { makeTempDir } from '../helpers/tempDir.js';
import { hasGnuTar, hfjsScan, lsForCompare } from './archiveHelpers.js';

let root: string;
let source: BuiltCache;
let seedArchive: string;

beforeAll(async () => {
  root = await makeTempDir({ prefix: 'hubcache-seed-' });
  const hfHome = join(root, 'volumes', 'data', 'hf_home');
  source = await buildSampleCache({ cacheDir: join(hfHome, 'hub') });
  // What else an HF_HOME holds: never restored, never a problem.
  await writeFile(join(hfHome, 'token'), 'hf_secret');
  await mkdir(join(hfHome, 'xet', 'cache'), { recursive: true });
  await writeFile(join(hfHome, 'xet', 'cache', 'chunk'), 'xet');
  await mkdir(join(hfHome, 'hub', '.locks', 'models--org--model'), { recursive: true });
  await writeFile(join(hfHome, 'hub', '.locks', 'models--org--model', 'x.lock'), '');
  await writeFile(join(source.repos[0]!.paths.blobsDir, `${'c'.repeat(64)}.0123abcd.incomplete`), 'partial');
  seedArchive = join(root, 'seed.tgz');
});

// GNU tar keeps mtimes to the second and no atimes; the partial download stays behind: compare everything else.
const strip = (ls: unknown): unknown => JSON.parse(JSON.stringify(ls, (key, value) => (key === 'lastAccessed' || key === 'lastModified' || key === 'incomplete' ? undefined : value)));

describe('restore of a seed-style tar czf of an HF_HOME', () => {
  it('restores into an empty cache and verifies; ls and scans equal the original', async () => {
    if (!hasGnuTar()) return void console.warn('GNU tar not found: skipped');
    const tar = spawnSync('/bin/tar', ['czf', seedArchive, '-C', root, 'volumes'], { encoding: 'utf8' });
    expect(tar.status, tar.stderr).toBe(0);
    const target = join(root, 'restored');
    const restore = await runCli({ args: ['restore', seedArchive, '--json', '--cache-dir', target] });
    expect(restore.code, restore.stdout + restore.stderr).toBe(0);
    expect(restore.json()).toMatchObject({ format: 'plain-tar', gzip: true, ok: true, blobs: { written: 6, refused: 0 } });
    const verify = await runCli({ args: ['verify', '--json', '--cache-dir', target] });
    expect(verify.code, verify.stdout).toBe(0);
    expect(strip(await lsForCompare(target))).toEqual(strip(await lsForCompare(source.cacheDir)));
    expect(await hfjsScan(target)).toEqual(await hfjsScan(source.cacheDir));
    const python = pythonHub();
    if (python) expect(pythonScan(python, target)).toEqual(pythonScan(python, source.cacheDir));
  });

  it('refuses and names a damaged blob in a plain tar; the rest restores', async () => {
    if (!hasGnuTar()) return void console.warn('GNU tar not found: skipped');
    const plain = gunzipSync(await readFile(seedArchive));
    const at = plain.indexOf(Buffer.alloc(2048, 3)); // onnx/model.onnx
    expect(at).toBeGreaterThan(0);
    plain[at + 10] = 4;
    const damaged = join(root, 'damaged.tgz');
    await writeFile(damaged, gzipSync(plain));
    const target = join(root, 'damaged');
    const restore = await runCli({ args: ['restore', damaged, '--json', '--cache-dir', target] });
    expect(restore.code).toBe(1);
    const report = restore.json();
    const onnx = source.repos[0]!.revisions[0]!.files['onnx/model.onnx']!;
    expect(report.problems).toEqual([expect.objectContaining({ code: 'hash-mismatch', entry: expect.stringContaining(`models--org--model/blobs/${onnx.etag}`) })]);
    expect(report.blobs).toMatchObject({ written: 5, refused: 1 });
    expect((await runCli({ args: ['verify', '--cache-dir', target] })).code).toBe(0);
  });

  it('restores a tar czf of a deduplicated cache: a hard-linked second name of a blob becomes a verified copy', async () => {
    if (!hasGnuTar()) return void console.warn('GNU tar not found: skipped');
    const hub = join(root, 'dedup', 'hub');
    const weights = Buffer.alloc(3 * 1024 * 1024 + 11, 5);
    const shared = { 'model.safetensors': weights, 'config.json': '{"same": true}' };
    const built = await buildCache({
      cacheDir: hub,
      repos: [
        { repoId: 'org/base', revisions: [{ commit: fakeCommit('base'), refs: ['main'], files: shared }] },
        { repoId: 'org/copy', revisions: [{ commit: fakeCommit('copy'), refs: ['main'], files: { ...shared, 'own.txt': 'own' } }] },
      ],
    });
    // What `hubcache dedupe` leaves: the second repo's blobs are hard links to the first's.
    for (const file of ['model.safetensors', 'config.json']) {
      const first = built.repos[0]!.revisions[0]!.files[file]!.blobPath;
      const second = built.repos[1]!.revisions[0]!.files[file]!.blobPath;
      await rm(second);
      await link(first, second);
      expect((await stat(second)).ino).toBe((await stat(first)).ino);
    }
    const archive = join(root, 'dedup.tgz');
    const tar = spawnSync('/bin/tar', ['czf', archive, '-C', join(root, 'dedup'), 'hub'], { encoding: 'utf8' });
    expect(tar.status, tar.stderr).toBe(0);
    // GNU tar stored each second name as a hard link (type 1), not as content.
    const listing = spawnSync('/bin/tar', ['tvzf', archive], { encoding: 'utf8' }).stdout;
    expect(listing.split('\n').filter((line) => line.startsWith('h'))).toHaveLength(2);

    const target = join(root, 'dedup-restored');
    const restore = await runCli({ args: ['restore', archive, '--json', '--cache-dir', target] });
    expect(restore.code, restore.stdout + restore.stderr).toBe(0);
    expect(restore.json()).toMatchObject({ format: 'plain-tar', ok: true, blobs: { written: 5, refused: 0 }, problems: [] });
    expect((await runCli({ args: ['verify', '--cache-dir', target] })).code).toBe(0);
    expect(strip(await lsForCompare(target))).toEqual(strip(await lsForCompare(hub)));
    expect(await hfjsScan(target)).toEqual(await hfjsScan(hub));

  });
});
