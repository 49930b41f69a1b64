import { appendFile, mkdir, readFile, readlink, stat, symlink, truncate, unlink, writeFile, open } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildCache, buildSampleCache, fakeCommit, type BuildRepo } from '../helpers/cacheBuilder.js';
import { makeTempDir } from '../helpers/tempDir.js';
import { CLI_PATH, runCli } from '../helpers/runCli.js';
import { execFileSync, spawnSync } from 'node:child_process';

async function flipByte(path: string, offset = 0): Promise<void> {
  const handle = await open(path, 'r+');
  const b = Buffer.alloc(1);
  await handle.read(b, 0, 1, offset);
  b[0] = (b[0] as number) ^ 0xff;
  await handle.write(b, 0, 1, offset);
  await handle.close();
}

describe('ls', () => {
  it('reports repos, sizes of unique blobs, nested files, nested refs and both layouts', async () => {
    for (const layout of ['symlink', 'copy'] as const) {
      const cacheDir = join(await makeTempDir(), 'hub');
      const built = await buildSampleCache({ cacheDir, layout });
      const res = await runCli({ args: ['ls', '--json', '--revisions', '--cache-dir', cacheDir] });
      expect(res.code, res.stderr).toBe(0);
      const data = res.json();
      const model = data.repos.find((r: any) => r.repoId === 'org/model');
      const files = built.repos[0]!.revisions.flatMap((r) => Object.values(r.files));
      if (layout === 'symlink') {
        // model.gguf is shared by both revisions: counted once.
        const unique = new Map(files.map((f) => [f.etag, f.size]));
        expect(model.sizeOnDisk).toBe([...unique.values()].reduce((a, b) => a + b, 0));
        expect(model.nbFiles).toBe(unique.size);
      } else {
        expect(model.sizeOnDisk).toBe(files.reduce((a, f) => a + f.size, 0));
      }
      expect(model.refs).toEqual({ main: built.repos[0]!.revisions[0]!.commit, 'refs/pr/1': built.repos[0]!.revisions[1]!.commit, 'v1.0': built.repos[0]!.revisions[1]!.commit });
      const rev0 = model.revisions.find((r: any) => r.commit === built.repos[0]!.revisions[0]!.commit);
      expect(rev0.nbFiles).toBe(3); // includes onnx/model.onnx in a subfolder
      expect(rev0.refs).toEqual(['main']);
      expect(data.repos.find((r: any) => r.repoType === 'dataset').repoId).toBe('org/data');
      expect(model.warnings).toEqual([]);
    }
  });

  it('keeps a repo visible when one link is broken, and lists partial downloads', async () => {
    const cacheDir = join(await makeTempDir(), 'hub');
    const built = await buildSampleCache({ cacheDir });
    const repo = built.repos[0]!;
    await unlink(repo.revisions[0]!.files['onnx/model.onnx']!.blobPath);
    await writeFile(join(repo.paths.blobsDir, `${'c'.repeat(64)}.incomplete`), Buffer.alloc(300));
    await writeFile(join(repo.paths.blobsDir, `${'d'.repeat(64)}.downloadInProgress`), Buffer.alloc(200));
    const res = await runCli({ args: ['ls', '--json', '--cache-dir', cacheDir] });
    expect(res.code).toBe(0);
    const model = res.json().repos.find((r: any) => r.repoId === 'org/model');
    expect(model.revisions).toHaveLength(2);
    expect(model.warnings.map((w: any) => w.code)).toEqual(['dangling-link']);
    expect(model.incomplete.bytes).toBe(500);
    expect(model.incomplete.files.map((f: any) => f.kind).sort()).toEqual(['downloadInProgress', 'incomplete']);
    const human = await runCli({ args: ['ls', '--cache-dir', cacheDir] });
    expect(human.stdout).toContain('org/model');
    expect(human.stdout).toContain('2 partial');
    expect(human.stderr).toContain('link target blobs/');
  });

  it('sorts and filters', async () => {
    const cacheDir = join(await makeTempDir(), 'hub');
    await buildCache({
      cacheDir,
      repos: [
        { repoId: 'a/small', revisions: [{ refs: ['main'], files: { 'x.bin': Buffer.alloc(10) } }] },
        { repoId: 'b/big', revisions: [{ refs: ['main'], files: { 'x.bin': Buffer.alloc(5000) } }] },
        { repoType: 'dataset', repoId: 'c/data', revisions: [{ refs: ['dev'], files: { 'x.bin': Buffer.alloc(100) } }] },
      ],
    });
    const bySize = (await runCli({ args: ['ls', '--json', '--sort', 'size', '--cache-dir', cacheDir] })).json();
    expect(bySize.repos.map((r: any) => r.repoId)).toEqual(['b/big', 'c/data', 'a/small']);
    const big = (await runCli({ args: ['ls', '--json', '--filter', 'size>1kB', '--cache-dir', cacheDir] })).json();
    expect(big.repos.map((r: any) => r.repoId)).toEqual(['b/big']);
    const ds = (await runCli({ args: ['ls', '--json', '--filter', 'type=dataset', '--filter', 'ref=dev', '--cache-dir', cacheDir] })).json();
    expect(ds.repos.map((r: any) => r.repoId)).toEqual(['c/data']);
    const bad = await runCli({ args: ['ls', '--filter', 'size>>x', '--cache-dir', cacheDir] });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/Invalid filter/);
    expect(bad.stderr).not.toMatch(/at .*\.js/);
  });
});

describe('ls on a big cache (scanned on worker threads)', () => {
  it('reports the same repos, sizes and counts as the single-thread full scan', async () => {
    const cacheDir = join(await makeTempDir(), 'hub');
    await buildCache({
      cacheDir,
      repos: Array.from({ length: 40 }, (_, i): BuildRepo => ({
        repoId: `org/m${i}`,
        revisions: [
          { refs: ['main'], files: { 'a.bin': Buffer.alloc(10 + i, 1), 'sub/b.bin': Buffer.alloc(20 + i, 2) } },
          { refs: i % 2 ? ['v1'] : [], files: { 'a.bin': Buffer.alloc(10 + i, 1), 'c.txt': `c${i}` } },
        ],
      })),
    });
    const summary = (await runCli({ args: ['ls', '--json', '--revisions', '--cache-dir', cacheDir] })).json();
    const full = (await runCli({ args: ['ls', '--json', '--revisions', '--files', '--cache-dir', cacheDir] })).json();
    const strip = (data: any) => data.repos.map((r: any) => ({ ...r, revisions: r.revisions.map(({ files: _files, ...rest }: any) => rest) }));
    expect(summary.repos).toHaveLength(40);
    expect(strip(summary)).toEqual(strip(full));
    expect(summary.sizeOnDisk).toBe(full.sizeOnDisk);
  });
});

describe('path', () => {
  let cacheDir: string;
  let built: Awaited<ReturnType<typeof buildSampleCache>>;
  beforeAll(async () => {
    cacheDir = join(await makeTempDir(), 'hub');
    built = await buildSampleCache({ cacheDir });
  });
  it('resolves through refs, nested refs, commits and nested files', async () => {
    const [r0, r1] = built.repos[0]!.revisions as [any, any];
    const main = await runCli({ args: ['path', 'org/model', 'model.gguf', '--cache-dir', cacheDir] });
    expect(main.code, main.stderr).toBe(0);
    expect(main.stdout.trim()).toBe(r0.files['model.gguf'].snapshotPath);
    const pr = await runCli({ args: ['path', 'org/model', 'config.json', '--revision', 'refs/pr/1', '--cache-dir', cacheDir] });
    expect(pr.stdout.trim()).toBe(r1.files['config.json'].snapshotPath);
    const byCommit = await runCli({ args: ['path', 'org/model', 'onnx/model.onnx', '-r', r0.commit, '--cache-dir', cacheDir] });
    expect(byCommit.stdout.trim()).toBe(r0.files['onnx/model.onnx'].snapshotPath);
    const ds = await runCli({ args: ['path', 'dataset/org/data', 'data/train.parquet', '--cache-dir', cacheDir] });
    expect(ds.code).toBe(0);
  });
  it('works with a trailing newline in the ref (hand-written refs)', async () => {
    const refPath = built.repos[0]!.paths.ref('v1.0');
    await appendFile(refPath, '\n');
    const res = await runCli({ args: ['path', 'org/model', 'model.gguf', '-r', 'v1.0', '--cache-dir', cacheDir] });
    expect(res.code, res.stderr).toBe(0);
  });
  it('exits 1 and names the cached revisions when the file is absent', async () => {
    const res = await runCli({ args: ['path', 'org/model', 'onnx/model.onnx', '-r', 'v1.0', '--cache-dir', cacheDir] });
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/not cached for org\/model at v1\.0/);
    expect(res.stderr).toMatch(/Cached revisions that have onnx\/model.onnx: main/);
    const missingRepo = await runCli({ args: ['path', 'org/nope', 'x', '--cache-dir', cacheDir, '--json'] });
    expect(missingRepo.code).toBe(1);
    expect(missingRepo.json().error.code).toBe('E_NOT_CACHED');
  });
  it('exits 2 on invalid ids and traversal, without a stack trace', async () => {
    for (const args of [['../x', 'a'], ['org/model', '../../etc/passwd'], ['org/model', '/etc/passwd'], ['org/model', 'x', '-r', '../../x']]) {
      const res = await runCli({ args: ['path', ...args, '--cache-dir', cacheDir] });
      expect(res.code, args.join(' ')).toBe(2);
      expect(res.stderr).toMatch(/^error: Invalid/m);
      expect(res.stderr).not.toMatch(/\n\s+at /);
    }
  });
  it('needs no write permission: works for another user on a read-only cache', async () => {
    if (process.getuid?.() !== 0) return; // switching users needs root (CI runs as root)
    const root = await makeTempDir();
    const roCache = join(root, 'hub');
    await buildSampleCache({ cacheDir: roCache });
    execFileSync('chmod', ['-R', 'a+rX,a-w', root]);
    const res = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, CLI_PATH, 'path', 'org/model', 'model.gguf', '--cache-dir', roCache], {
      encoding: 'utf8',
      env: { ...process.env, HOME: '/nonexistent' },
    });
    execFileSync('chmod', ['-R', 'u+w', root]);
    expect(res.status, res.stderr).toBe(0);
    expect(res.stdout.trim()).toMatch(/snapshots\/[0-9a-f]{40}\/model\.gguf$/);
  });
});

describe('verify', () => {
  it('passes a clean cache in both layouts', async () => {
    for (const layout of ['symlink', 'copy'] as const) {
      const cacheDir = join(await makeTempDir(), 'hub');
      await buildSampleCache({ cacheDir, layout });
      const res = await runCli({ args: ['verify', '--json', '--cache-dir', cacheDir] });
      expect(res.code, res.stdout).toBe(0);
      expect(res.json().ok).toBe(true);
    }
  });

  it('finds every kind of damage, and --fix leaves a cache that verifies clean without touching anything outside', async () => {
    const root = await makeTempDir();
    const cacheDir = join(root, 'hub');
    const outside = join(root, 'outside.bin');
    await writeFile(outside, 'precious');
    const built = await buildCache({
      cacheDir,
      repos: [
        {
          repoId: 'org/damaged',
          revisions: [
            {
              refs: ['main'],
              files: {
                'flipped.gguf': Buffer.alloc(5000, 1),
                'truncated.safetensors': Buffer.alloc(5000, 2),
                'config.json': '{"a":1}',
                'good.bin': Buffer.alloc(100, 9),
                'dangling.txt': 'will lose its blob',
                'nested/abs.json': '{"abs":true}',
              },
            },
          ],
        },
      ],
    });
    const repo = built.repos[0]!;
    const files = repo.revisions[0]!.files;
    const snap = repo.paths.snapshot(repo.revisions[0]!.commit);
    await flipByte(files['flipped.gguf']!.blobPath, 100);
    await truncate(files['truncated.safetensors']!.blobPath, 10);
    await unlink(files['dangling.txt']!.blobPath);
    await unlink(files['nested/abs.json']!.snapshotPath);
    await symlink(files['nested/abs.json']!.blobPath, files['nested/abs.json']!.snapshotPath); // absolute link
    await symlink('../../../../outside.bin', join(snap, 'escape.bin')); // escapes the cache
    await symlink(outside, join(snap, 'escape-abs.bin'));
    await mkdir(join(repo.paths.refsDir), { recursive: true });
    await writeFile(repo.paths.ref('gone'), fakeCommit('missing'));
    await writeFile(join(repo.paths.snapshotsDir, 'stray.txt'), 'x');
    await symlink(snap, join(repo.paths.snapshotsDir, 'latest')); // the seed's hand-made link

    const res = await runCli({ args: ['verify', '--json', '--cache-dir', cacheDir] });
    expect(res.code).toBe(1);
    const report = res.json();
    const codes = report.findings.filter((f: any) => f.severity === 'error').map((f: any) => `${f.code}:${f.path.split('/').pop()}`).sort();
    expect(codes).toEqual(
      [
        `hash-mismatch:${files['flipped.gguf']!.etag}`,
        `hash-mismatch:${files['truncated.safetensors']!.etag}`,
        'dangling-link:dangling.txt',
        'absolute-link:abs.json',
        'link-outside-repo:escape.bin',
        'link-outside-repo:escape-abs.bin',
        'ref-missing-snapshot:gone',
        'stray-entry:stray.txt',
        'stray-entry:latest',
      ].sort(),
    );

    const fixed = await runCli({ args: ['verify', '--fix', '--yes', '--json', '--cache-dir', cacheDir] });
    expect(fixed.code, fixed.stdout).toBe(0);
    expect(fixed.json().afterFix.ok).toBe(true);
    const again = await runCli({ args: ['verify', '--cache-dir', cacheDir] });
    expect(again.code, again.stdout).toBe(0);
    expect(again.stdout).toContain('no damage found');
    // Outside file untouched; good files kept; absolute link now relative.
    expect(await readFile(outside, 'utf8')).toBe('precious');
    expect((await stat(files['good.bin']!.snapshotPath)).size).toBe(100);
    expect(await readlink(files['nested/abs.json']!.snapshotPath)).toBe(`../../../blobs/${files['nested/abs.json']!.etag}`);
    await expect(stat(files['flipped.gguf']!.snapshotPath)).rejects.toThrow();
    await expect(stat(files['flipped.gguf']!.blobPath)).rejects.toThrow();
    // The snapshot the hand-made "latest" pointed at is still there.
    expect((await stat(snap)).isDirectory()).toBe(true);
  });

  it('exits 2 for a bad repo argument', async () => {
    const res = await runCli({ args: ['verify', 'a/../b', '--cache-dir', await makeTempDir()] });
    expect(res.code).toBe(2);
  });
});
