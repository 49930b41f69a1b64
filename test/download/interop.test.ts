/**
 * Interop both ways with @huggingface/hub, a real independent client:
 * caches it writes are read, resolved and verified by hubcache, and each
 * tool reuses the other's downloads without transferring file bodies.
 */
import { appendFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { downloadFileToCacheDir, scanCacheDir, snapshotDownload } from '@huggingface/hub';
import { createOrigin, type Origin } from '../helpers/origin/createOrigin.js';
import { linearRepo } from '../helpers/origin/fixture.js';
import { makeTempDir } from '../helpers/tempDir.js';
import { runCli } from '../helpers/runCli.js';
import { buildCache } from '../helpers/cacheBuilder.js';

let origin: Origin;

beforeAll(async () => {
  origin = await createOrigin({
    fixture: {
      repos: [
        linearRepo({
          repoId: 'acme/tiny',
          commits: [
            {
              files: [
                { path: 'config.json', source: '{"model_type":"llama"}' },
                { path: 'model.safetensors', source: { size: 3 * 1024 * 1024, seed: 'tiny-weights' } },
                { path: 'onnx/model.onnx', source: { size: 200_000, seed: 'tiny-onnx' } },
                { path: 'README.md', source: '# tiny' },
              ],
            },
          ],
        }),
      ],
    },
  });
});
afterAll(async () => origin?.close());

function hubcache(args: string[], cacheDir: string): ReturnType<typeof runCli> {
  return runCli({ args: [...args, '--cache-dir', cacheDir], env: { HF_ENDPOINT: origin.url, HF_TOKEN: undefined } });
}

describe('@huggingface/hub writes, hubcache reads', () => {
  it('scans, resolves and verifies a snapshot written by @huggingface/hub with the same sizes and files', async () => {
    const cacheDir = join(await makeTempDir(), 'hub');
    await snapshotDownload({ repo: 'acme/tiny', hubUrl: origin.url, cacheDir });
    const theirs = await scanCacheDir(cacheDir);
    const ls = await hubcache(['ls', '--json', '--revisions', '--files'], cacheDir);
    expect(ls.code, ls.stderr).toBe(0);
    const ours = ls.json().repos[0];
    expect(ours.repoId).toBe('acme/tiny');
    // Same numbers as @huggingface/hub for what it sees; it skips files in subfolders,
    // which huggingface_hub (and hubcache) count.
    const nestedSize = 200_000;
    expect(ours.sizeOnDisk).toBe(theirs.repos[0]!.size + nestedSize);
    expect(ours.sizeOnDisk).toBe(3 * 1024 * 1024 + 200_000 + Buffer.byteLength('{"model_type":"llama"}') + Buffer.byteLength('# tiny'));
    const ourFiles = ours.revisions.flatMap((r: any) => r.files.map((f: any) => f.path)).sort();
    expect(ourFiles).toEqual(['README.md', 'config.json', 'model.safetensors', 'onnx/model.onnx']);
    // @huggingface/hub's own scan misses the file in a subfolder.
    const theirFiles = theirs.repos[0]!.revisions.flatMap((r) => r.files.map((f) => f.path.split('/').pop() as string)).sort();
    expect(theirFiles).not.toContain('model.onnx');
    const verify = await hubcache(['verify', '--json'], cacheDir);
    expect(verify.code, verify.stdout).toBe(0);
    expect(verify.json().blobsChecked).toBe(4);
    const commit = ours.revisions[0].commit;
    const path = await hubcache(['path', 'acme/tiny', 'onnx/model.onnx', '--revision', commit], cacheDir);
    expect(path.code, path.stderr).toBe(0);
    expect((await readFile(path.stdout.trim())).length).toBe(200_000);
  });

  it('reuses a file @huggingface/hub downloaded with zero body bytes', async () => {
    const cacheDir = join(await makeTempDir(), 'hub');
    await downloadFileToCacheDir({ repo: 'acme/tiny', path: 'model.safetensors', hubUrl: origin.url, cacheDir });
    origin.stats.reset();
    const res = await hubcache(['download', 'acme/tiny', 'model.safetensors', '--json'], cacheDir);
    expect(res.code, res.stderr).toBe(0);
    expect(res.json().fromCache).toBe(true);
    expect(origin.stats.bodyBytes).toBe(0);
    expect((await readFile(res.json().path)).length).toBe(3 * 1024 * 1024);
  });
});

describe('hubcache writes, @huggingface/hub reads', () => {
  it('finds a file hubcache downloaded with no body transfer, and scans it', async () => {
    const cacheDir = join(await makeTempDir(), 'hub');
    const res = await hubcache(['download', 'acme/tiny'], cacheDir);
    expect(res.code, res.stderr).toBe(0);
    origin.stats.reset();
    const path = await downloadFileToCacheDir({ repo: 'acme/tiny', path: 'model.safetensors', hubUrl: origin.url, cacheDir });
    expect(origin.stats.bodyBytes).toBe(0);
    expect((await readFile(path)).length).toBe(3 * 1024 * 1024);
    const nested = await downloadFileToCacheDir({ repo: 'acme/tiny', path: 'onnx/model.onnx', hubUrl: origin.url, cacheDir });
    expect((await readFile(nested)).length).toBe(200_000);
    expect(origin.stats.bodyBytes).toBe(0);
    const theirs = await scanCacheDir(cacheDir);
    expect(theirs.warnings).toEqual([]);
    expect(theirs.repos).toHaveLength(1);
    expect(theirs.repos[0]!.revisions[0]!.refs).toEqual(['main']);
  });
});

describe('where @huggingface/hub scanCacheDir is wrong, hubcache is right', () => {
  it('repo without refs/, nested files, refs/pr/*, trailing newline in a ref', async () => {
    const cacheDir = join(await makeTempDir(), 'hub');
    const built = await buildCache({
      cacheDir,
      repos: [
        { repoId: 'a/no-refs', revisions: [{ files: { 'x.bin': Buffer.alloc(100, 1) } }] },
        { repoId: 'a/nested', revisions: [{ refs: ['main'], files: { 'dir/sub/y.bin': Buffer.alloc(50, 2), 'top.txt': 'top' } }] },
        { repoId: 'a/pr', revisions: [{ refs: ['refs/pr/1'], files: { 'z.bin': Buffer.alloc(70, 3) } }] },
        { repoId: 'a/newline', revisions: [{ refs: ['main'], files: { 'w.bin': Buffer.alloc(30, 4) } }] },
      ],
    });
    await appendFile(built.repos[3]!.paths.ref('main'), '\n');
    const theirs = await scanCacheDir(cacheDir);
    const ours = (await hubcache(['ls', '--json', '--revisions', '--files'], cacheDir)).json();
    const byId = (id: string) => ours.repos.find((r: any) => r.repoId === id);

    expect(theirs.repos.find((r) => r.id.name === 'a/no-refs')).toBeUndefined();
    expect(byId('a/no-refs').sizeOnDisk).toBe(100);

    const theirNested = theirs.repos.find((r) => r.id.name === 'a/nested');
    expect(theirNested?.revisions[0]?.files.length ?? 0).toBeLessThan(2);
    expect(byId('a/nested').revisions[0].files.map((f: any) => f.path)).toEqual(['dir/sub/y.bin', 'top.txt']);

    const theirPr = theirs.repos.find((r) => r.id.name === 'a/pr');
    expect(theirPr?.revisions[0]?.refs ?? []).not.toContain('refs/pr/1');
    expect(byId('a/pr').refs).toEqual({ 'refs/pr/1': built.repos[2]!.revisions[0]!.commit });
    expect(byId('a/pr').revisions[0].refs).toEqual(['refs/pr/1']);

    expect(byId('a/newline').refs.main).toBe(built.repos[3]!.revisions[0]!.commit);
    expect(byId('a/newline').revisions[0].refs).toEqual(['main']);
    expect(byId('a/newline').warnings).toEqual([]);
    const path = await hubcache(['path', 'a/newline', 'w.bin'], cacheDir);
    expect(path.code).toBe(0);
  });
});
