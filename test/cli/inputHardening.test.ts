/**
 * Bounded work on hostile or odd input (issue 9): odd refs and manifests, option values,
 * usage errors under --json, echoed input, and messages that must tell the truth.
 * Everything runs the built CLI as a real process against real temp caches.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { lstat, mkdir, truncate, unlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { buildCache, buildSampleCache } from '../helpers/cacheBuilder.js';
import { makeTempDir } from '../helpers/tempDir.js';
import { runCli } from '../helpers/runCli.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

async function sampleCache(): Promise<{ cacheDir: string; built: Awaited<ReturnType<typeof buildSampleCache>> }> {
  const cacheDir = join(await makeTempDir(), 'hub');
  const built = await buildSampleCache({ cacheDir });
  return { cacheDir, built };
}

/** A port nothing listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

describe('refs that are not small regular files', () => {
  it('a FIFO ref makes download --offline and path fail with a typed error instead of hanging', async () => {
    const { cacheDir, built } = await sampleCache();
    execFileSync('mkfifo', [built.repos[0]!.paths.ref('fifo')]);
    for (const args of [
      ['download', 'org/model', '-r', 'fifo', '--offline'],
      ['download', 'org/model', 'config.json', '-r', 'fifo', '--offline'],
      ['path', 'org/model', 'config.json', '-r', 'fifo'],
    ]) {
      const res = await runCli({ args: [...args, '--json', '--cache-dir', cacheDir], timeoutMs: 20_000 });
      expect(res.signal, `${args.join(' ')} hung`).toBeNull();
      expect(res.code, res.stderr).toBe(1);
      expect(res.json().error.code).toBe('E_CACHE_DAMAGED');
      expect(res.stderr).toContain('not a regular file');
    }
    // The other refs of the repo keep working.
    const ok = await runCli({ args: ['path', 'org/model', 'config.json', '--cache-dir', cacheDir], timeoutMs: 20_000 });
    expect(ok.code, ok.stderr).toBe(0);
  });

  it('a 1 GB ref is refused by size, never read: a warning in ls, a typed error in path', async () => {
    const { cacheDir, built } = await sampleCache();
    const big = built.repos[0]!.paths.ref('big');
    await writeFile(big, '');
    await truncate(big, 1024 ** 3); // sparse: costs no disk
    const path = await runCli({ args: ['path', 'org/model', 'config.json', '-r', 'big', '--json', '--cache-dir', cacheDir], timeoutMs: 30_000 });
    expect(path.code, path.stderr).toBe(1);
    expect(path.json().error.code).toBe('E_CACHE_DAMAGED');
    expect(path.stderr).toMatch(/larger than/);
    const ls = await runCli({ args: ['ls', '--json', '--cache-dir', cacheDir], timeoutMs: 30_000 });
    expect(ls.code, ls.stderr).toBe(0);
    const model = ls.json().repos.find((r: any) => r.repoId === 'org/model');
    expect(Object.keys(model.refs).sort()).toEqual(['main', 'refs/pr/1', 'v1.0']);
    expect(model.warnings.map((w: any) => w.message).join('\n')).toMatch(/larger than/);
  });

  it('sync -f refuses a FIFO and /dev/zero as the manifest (E_MANIFEST, exit 2)', async () => {
    const dir = await makeTempDir();
    const fifo = join(dir, 'manifest.fifo');
    execFileSync('mkfifo', [fifo]);
    for (const file of [fifo, '/dev/zero']) {
      const res = await runCli({ args: ['sync', '-f', file, '--json', '--cache-dir', join(dir, 'hub')], timeoutMs: 20_000 });
      expect(res.signal, `sync -f ${file} hung`).toBeNull();
      expect(res.code, res.stderr).toBe(2);
      expect(res.json().error.code).toBe('E_MANIFEST');
      expect(res.stderr).toContain('not a regular file');
    }
  });

  it('sync -f refuses an oversized manifest without reading it', async () => {
    const dir = await makeTempDir();
    const file = join(dir, 'hubcache.yaml');
    await writeFile(file, '');
    await truncate(file, 512 * 1024 ** 2);
    const res = await runCli({ args: ['sync', '-f', file, '--json', '--cache-dir', join(dir, 'hub')], timeoutMs: 30_000 });
    expect(res.code, res.stderr).toBe(2);
    expect(res.json().error.code).toBe('E_MANIFEST');
    expect(res.stderr).toMatch(/larger than/);
  });
});

describe('numeric options', () => {
  it('verify -j and dedupe -j accept only a whole number from 1 to the cap', async () => {
    const { cacheDir } = await sampleCache();
    for (const command of ['verify', 'dedupe']) {
      for (const bad of ['abc', '-1', '0', '1.5', '1000', '']) {
        const res = await runCli({ args: [command, '-j', bad, '--json', '--cache-dir', cacheDir] });
        expect(res.code, `${command} -j ${bad}: ${res.stderr}`).toBe(2);
        expect(res.json().error.code).toBe('E_USAGE');
        expect(res.stderr).toContain('-j');
      }
    }
    const ok = await runCli({ args: ['verify', '-j', '2', '--cache-dir', cacheDir] });
    expect(ok.code, ok.stderr).toBe(0);
  });

  it('--min-age 0 means "no minimum age"', async () => {
    const { cacheDir } = await sampleCache();
    for (const command of ['prune', 'gc']) {
      const res = await runCli({ args: [command, '--min-age', '0', '--dry-run', '--json', '--cache-dir', cacheDir] });
      expect(res.code, `${command}: ${res.stderr}`).toBe(0);
    }
  });
});

describe('usage errors', () => {
  it('errors from the argument parser honour --json: E_USAGE on stdout, exit 2', async () => {
    const { cacheDir } = await sampleCache();
    for (const args of [
      ['ls', '--bogus'],
      ['download'],
      ['verify', '--fix=yes'],
      ['frobnicate'],
      ['path', 'org/model', 'a', 'b'],
    ]) {
      const res = await runCli({ args: [...args, '--json', '--cache-dir', cacheDir] });
      expect(res.code, `${args.join(' ')}: ${res.stderr}`).toBe(2);
      const error = res.json().error;
      expect(error.code).toBe('E_USAGE');
      expect(error.message.length).toBeGreaterThan(0);
    }
    // Without --json: nothing on stdout, the message on stderr.
    const human = await runCli({ args: ['ls', '--bogus', '--cache-dir', cacheDir] });
    expect(human.code).toBe(2);
    expect(human.stdout).toBe('');
    expect(human.stderr).toContain('--bogus');
  });

  it('--filter rejects unknown values and lists the valid ones', async () => {
    const { cacheDir } = await sampleCache();
    const res = await runCli({ args: ['ls', '--filter', 'type=banana', '--json', '--cache-dir', cacheDir] });
    expect(res.code, res.stderr).toBe(2);
    expect(res.json().error.code).toBe('E_USAGE');
    expect(res.stderr).toMatch(/model.*dataset.*space/);
    const plural = await runCli({ args: ['ls', '--filter', 'type=datasets', '--json', '--cache-dir', cacheDir] });
    expect(plural.code, plural.stderr).toBe(0);
    expect(plural.json().repos.map((r: any) => r.repoId)).toEqual(['org/data']);
  });

  it('an empty revision is an error, not "main"', async () => {
    const { cacheDir } = await sampleCache();
    for (const args of [
      ['download', 'org/model', '-r', '', '--offline'],
      ['download', 'org/model', 'config.json', '-r', '', '--offline'],
      ['path', 'org/model', 'config.json', '-r', ''],
    ]) {
      const res = await runCli({ args: [...args, '--json', '--cache-dir', cacheDir] });
      expect(res.code, `${args.join(' ')}: ${res.stderr}`).toBe(2);
      expect(res.json().error.code).toBe('E_INVALID_REVISION');
    }
  });

  it('errors quote user input truncated and with control characters escaped', async () => {
    const { cacheDir } = await sampleCache();
    const long = 'x'.repeat(5000);
    const multi = 'line1\nline2\x1b[31mred\rback';
    for (const args of [
      ['download', `org/${long}`, '--offline'],
      ['path', 'org/model', 'config.json', '-r', `${long}\n`],
      ['path', 'org/model', 'config.json', '-r', multi],
      ['path', 'org/model', `../${multi}`],
      ['ls', '--filter', `size>${long}`],
      ['ls', '--sort', multi],
      ['prune', '--min-age', multi],
      ['evict', '--max-size', long],
      ['verify', '-j', multi],
    ]) {
      const res = await runCli({ args: [...args, '--cache-dir', cacheDir] });
      expect(res.code, `${args.join(' ')}: ${res.stderr}`).toBe(2);
      const lines = res.stderr.trimEnd().split('\n');
      const message = lines.find((l) => l.startsWith('error: ')) ?? '';
      expect(message.length, message.slice(0, 300)).toBeLessThan(400);
      expect(res.stderr).not.toContain('\x1b');
      expect(res.stderr).not.toContain('\r');
      // Only "error:" and "hint:" lines: the input's newlines did not reach the terminal raw.
      for (const line of lines) expect(line).toMatch(/^(error|hint|\(run with --help)/);
    }
  });
});

describe('messages that tell the truth', () => {
  it('rm of a file whose folder keeps other files says nothing was kept or already gone', async () => {
    const cacheDir = join(await makeTempDir(), 'hub');
    const built = await buildCache({ cacheDir, repos: [{ repoId: 'org/m', revisions: [{ refs: ['main'], files: { 'sub/a.json': 'a', 'sub/b.json': 'b', 'sub/deep/c.json': 'c', 'd.json': 'd' } }] }] });
    const snapshot = built.repos[0]!.paths.snapshot(built.repos[0]!.revisions[0]!.commit);
    const one = await runCli({ args: ['rm', 'org/m@main:sub/a.json', '-y', '--cache-dir', cacheDir] });
    expect(one.code, one.stderr).toBe(0);
    expect(one.stdout).not.toMatch(/; \d+ kept|already gone|^kept /m);
    expect(existsSync(join(snapshot, 'sub/b.json'))).toBe(true);
    const two = await runCli({ args: ['rm', 'org/m@main:sub/b.json', 'org/m@main:sub/deep/c.json', '-y', '--cache-dir', cacheDir] });
    expect(two.code, two.stderr).toBe(0);
    expect(two.stdout).not.toMatch(/; \d+ kept|already gone|^kept /m);
    // Both folders were left empty and went; the revision's own folder stays.
    expect(existsSync(join(snapshot, 'sub'))).toBe(false);
    expect(existsSync(join(snapshot, 'd.json'))).toBe(true);
  });

  it('ls --files lists the files in the table too', async () => {
    const { cacheDir } = await sampleCache();
    const res = await runCli({ args: ['ls', '--files', '--cache-dir', cacheDir] });
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toContain('onnx/model.onnx');
    expect(res.stdout).toContain('data/train.parquet');
    expect(res.stdout).toContain('model.gguf');
  });

  it('an offline or fallback download of a partly cached snapshot exits 1 naming the missing files', async () => {
    const { cacheDir, built } = await sampleCache();
    const repo = built.repos[0]!;
    const revision = repo.revisions[0]!;
    // Python's listing of the commit (trees/<commit>.json), as snapshot_download writes it: four files.
    const files: Record<string, unknown> = {};
    for (const f of Object.values(revision.files)) files[f.path] = { size: f.size, blob_id: f.etag };
    files['tokenizer.json'] = { size: 10, blob_id: 'f'.repeat(40) };
    await mkdir(join(repo.paths.repoDir, 'trees'), { recursive: true });
    await writeFile(join(repo.paths.repoDir, 'trees', `${revision.commit}.json`), JSON.stringify({ format_version: 1, files }));
    // And one link whose blob is gone.
    await unlink(revision.files['onnx/model.onnx']!.blobPath);
    const port = await closedPort();
    for (const args of [
      ['--offline'],
      ['--endpoint', `http://127.0.0.1:${port}`, '--retries', '0'],
    ]) {
      const res = await runCli({ args: ['download', 'org/model', ...args, '--json', '--cache-dir', cacheDir], timeoutMs: 60_000 });
      expect(res.code, res.stderr).toBe(1);
      const error = res.json().error;
      expect(error.data.missing.sort()).toEqual(['onnx/model.onnx', 'tokenizer.json']);
      expect(res.stderr).toContain('tokenizer.json');
      expect(res.stderr).toContain('onnx/model.onnx');
      expect(error.data.path).toBe(repo.paths.snapshot(revision.commit));
      // The cached files stay available.
      expect((await lstat(revision.files['config.json']!.snapshotPath)).isSymbolicLink()).toBe(true);
    }
    // With --include limited to what is cached, the same snapshot is complete.
    const subset = await runCli({ args: ['download', 'org/model', '--include', '*.json', '--exclude', 'tokenizer.json', '--offline', '--cache-dir', cacheDir] });
    expect(subset.code, subset.stderr).toBe(0);
    expect(subset.stdout.trim()).toBe(repo.paths.snapshot(revision.commit));
    expect(subset.stderr).toContain('1 file(s)');
  });

  it('an offline download of a complete snapshot counts its files', async () => {
    const { cacheDir } = await sampleCache();
    const res = await runCli({ args: ['download', 'org/model', '--offline', '--cache-dir', cacheDir] });
    expect(res.code, res.stderr).toBe(0);
    expect(res.stderr).toContain('3 file(s)');
  });
});

describe('the bin', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> };
  const bin = join(ROOT, pkg.bin.hubcache as string);

  it('runs the CLI', () => {
    const version = execFileSync(process.execPath, [bin, '--version'], { encoding: 'utf8' });
    expect(version.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  /**
   * By behaviour, not by reading process.env: a preloaded probe counts the process's threads
   * before anything runs and again at exit; libuv starts its whole pool at the first queued
   * task, so the difference is the pool size the bin's run actually got. The probe queues no
   * work itself, so whatever started the pool (the ESM loader reading files, a command's fs
   * calls) did it with the environment the bin had set by then.
   */
  it('starts libuv with 16 threads: UV_THREADPOOL_SIZE is set before the pool exists', async () => {
    const dir = await makeTempDir();
    const probe = join(dir, 'probe.cjs');
    await writeFile(
      probe,
      `
const fs = require('node:fs');
const threads = () => fs.readdirSync('/proc/self/task').length;
const before = threads();
process.on('exit', () => fs.writeSync(2, 'POOL=' + (threads() - before) + '\\n'));
`,
    );
    const env = { ...process.env };
    delete env.UV_THREADPOOL_SIZE;
    for (const args of [['--version'], ['ls', '--cache-dir', join(dir, 'hub')]]) {
      const child = spawn(process.execPath, ['--require', probe, bin, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      await new Promise((r) => child.on('close', r));
      expect(stderr, args.join(' ')).toContain('POOL=16');
    }
    // An explicit setting is the user's: kept.
    const child = spawn(process.execPath, ['--require', probe, bin, '--version'], { env: { ...env, UV_THREADPOOL_SIZE: '6' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    await new Promise((r) => child.on('close', r));
    expect(stderr).toContain('POOL=6');
  });
});
