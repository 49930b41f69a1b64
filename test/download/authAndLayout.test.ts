/**
 * Tokens, repo types, refs and permissions: the parts of a download other
 * tools and other users depend on.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmod, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOrigin, type Origin } from '../helpers/origin/createOrigin.js';
import { linearRepo } from '../helpers/origin/fixture.js';
import { makeTempDir } from '../helpers/tempDir.js';
import { CLI_PATH, runCli } from '../helpers/runCli.js';

const TOKEN = 'hf_secretsecretsecret1234';
let origin: Origin;

beforeAll(async () => {
  origin = await createOrigin({
    token: TOKEN,
    fixture: {
      repos: [
        linearRepo({
          repoId: 'acme/private',
          private: true,
          commits: [{ files: [{ path: 'weights.safetensors', source: { size: 2 * 1024 * 1024, seed: 'priv' } }, { path: 'config.json', source: '{}' }] }],
        }),
        linearRepo({ repoId: 'acme/gated', gated: 'denied', commits: [{ files: [{ path: 'model.gguf', source: { size: 1024, seed: 'gated' } }] }] }),
        linearRepo({
          repoId: 'acme/data',
          repoType: 'dataset',
          commits: [{ files: [{ path: 'data/train.parquet', source: { size: 100_000, seed: 'ds' } }] }, { files: [{ path: 'README.md', source: '# v2' }], refs: ['v2'] }],
        }),
        linearRepo({ repoId: 'acme/app', repoType: 'space', commits: [{ files: [{ path: 'app.py', source: 'print(1)' }] }] }),
      ],
    },
  });
});
afterAll(async () => origin?.close());

describe('tokens', () => {
  it('are sent to the Hub, dropped on the redirect to the CDN host, and never printed', async () => {
    const cacheDir = join(await makeTempDir(), 'hub');
    origin.stats.reset();
    const res = await runCli({ args: ['download', 'acme/private', '--json', '--cache-dir', cacheDir], env: { HF_ENDPOINT: origin.url, HF_TOKEN: TOKEN } });
    expect(res.code, res.stderr).toBe(0);
    const hubRequests = origin.stats.log.filter((e) => e.route !== 'cdn');
    const cdnRequests = origin.stats.log.filter((e) => e.route === 'cdn');
    expect(cdnRequests.length).toBeGreaterThan(0);
    expect(hubRequests.every((e) => e.authorization)).toBe(true);
    expect(cdnRequests.some((e) => e.authorization)).toBe(false);
    expect(res.stdout + res.stderr).not.toContain(TOKEN);
  });

  it('missing or wrong tokens give clear errors without echoing the token', async () => {
    const cacheDir = join(await makeTempDir(), 'hub');
    const anonymous = await runCli({ args: ['download', 'acme/private', 'config.json', '--json', '--cache-dir', cacheDir], env: { HF_ENDPOINT: origin.url, HF_TOKEN: undefined, HF_HOME: cacheDir } });
    expect(anonymous.code).toBe(1);
    expect(anonymous.json().error.code).toBe('E_REPO_NOT_FOUND');
    expect(anonymous.stderr).toMatch(/If the repo is private, set HF_TOKEN/);
    const wrong = 'hf_wrongwrongwrong99999';
    const bad = await runCli({ args: ['download', 'acme/private', 'config.json', '--token', wrong, '--json', '--cache-dir', cacheDir], env: { HF_ENDPOINT: origin.url } });
    expect(bad.code).toBe(1);
    expect(bad.json().error.code).toBe('E_AUTH');
    expect(bad.stdout + bad.stderr).not.toContain(wrong);
    const gated = await runCli({ args: ['download', 'acme/gated', 'model.gguf', '--json', '--cache-dir', cacheDir], env: { HF_ENDPOINT: origin.url, HF_TOKEN: TOKEN } });
    expect(gated.code).toBe(1);
    expect(gated.json().error.code).toBe('E_GATED');
    expect(gated.stderr).toMatch(/Request access/);
  });
});

describe('repo types and refs', () => {
  it('downloads datasets and spaces into their own folders, with tags as refs', async () => {
    const cacheDir = join(await makeTempDir(), 'hub');
    const env = { HF_ENDPOINT: origin.url };
    const ds = await runCli({ args: ['download', 'dataset/acme/data', '--json', '--cache-dir', cacheDir], env });
    expect(ds.code, ds.stderr).toBe(0);
    expect(ds.json().path).toContain('/datasets--acme--data/snapshots/');
    const tagged = await runCli({ args: ['download', 'acme/data', 'README.md', '--repo-type', 'dataset', '-r', 'v2', '--json', '--cache-dir', cacheDir], env });
    expect(tagged.code, tagged.stderr).toBe(0);
    expect(await readFile(join(cacheDir, 'datasets--acme--data', 'refs', 'v2'), 'utf8')).toBe(tagged.json().commit);
    const space = await runCli({ args: ['download', 'acme/app', 'app.py', '--repo-type', 'space', '--json', '--cache-dir', cacheDir], env });
    expect(space.code, space.stderr).toBe(0);
    expect(space.json().path).toContain('/spaces--acme--app/snapshots/');
  });

  it('writes a ref only when it changes (no newline, like huggingface_hub)', async () => {
    const cacheDir = join(await makeTempDir(), 'hub');
    const env = { HF_ENDPOINT: origin.url };
    await runCli({ args: ['download', 'dataset/acme/data', 'data/train.parquet', '--cache-dir', cacheDir], env });
    const refPath = join(cacheDir, 'datasets--acme--data', 'refs', 'main');
    const before = await stat(refPath);
    const content = await readFile(refPath, 'utf8');
    expect(content).toMatch(/^[0-9a-f]{40}$/);
    await new Promise((r) => setTimeout(r, 50));
    await runCli({ args: ['download', 'dataset/acme/data', 'data/train.parquet', '--cache-dir', cacheDir], env });
    const after = await stat(refPath);
    expect(after.ino).toBe(before.ino);
    expect(after.mtimeMs).toBe(before.mtimeMs);
  });
});

describe('permissions for shared use', () => {
  it('blobs take the mode a fresh file gets in the folder, lock files are 0664, so another group member can read', async () => {
    if (process.getuid?.() !== 0) return; // needs root to act as a second user
    const root = await makeTempDir();
    await chmod(root, 0o755);
    const cacheDir = join(root, 'hub');
    // The downloader runs with a group-friendly umask, as the Docker image does.
    // Async spawn: the origin serving this download runs in this very process.
    const res = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn('sh', ['-c', `umask 002; exec "${process.execPath}" "${CLI_PATH}" download dataset/acme/data --json --cache-dir "${cacheDir}"`], {
        env: { ...process.env, HF_ENDPOINT: origin.url, HF_HUB_DISABLE_PROGRESS_BARS: '1' },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('close', (status) => resolve({ status, stdout, stderr }));
    });
    expect(res.status, res.stderr).toBe(0);
    const snapshot = JSON.parse(res.stdout).path as string;
    const blobsDir = join(cacheDir, 'datasets--acme--data', 'blobs');
    for (const name of execFileSync('ls', [blobsDir], { encoding: 'utf8' }).trim().split('\n')) {
      expect(((await stat(join(blobsDir, name))).mode & 0o777).toString(8), name).toBe('664');
    }
    const lockDir = join(cacheDir, '.locks', 'datasets--acme--data');
    for (const name of execFileSync('ls', [lockDir], { encoding: 'utf8' }).trim().split('\n')) {
      expect(((await stat(join(lockDir, name))).mode & 0o777).toString(8), name).toBe('664');
    }
    // Another user (nobody) reads the file through the snapshot link.
    const read = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'cat', join(snapshot, 'data', 'train.parquet')]);
    expect(read.status).toBe(0);
    expect(read.stdout.length).toBe(100_000);
  });
});

describe('a single-host mirror (LFS bytes redirected to the same host)', () => {
  it('keeps the metadata of the 302 instead of following it', async () => {
    const sameHost = await createOrigin({
      cdn: 'same-server',
      fixture: { repos: [linearRepo({ repoId: 'acme/one-host', commits: [{ files: [{ path: 'w.safetensors', source: { size: 3 * 1024 * 1024, seed: 'one-host' } }] }] })] },
    });
    try {
      const cacheDir = join(await makeTempDir(), 'hub');
      const res = await runCli({ args: ['download', 'acme/one-host', 'w.safetensors', '--json', '--cache-dir', cacheDir], env: { HF_ENDPOINT: sameHost.url } });
      expect(res.code, res.stderr).toBe(0);
      expect(res.json().etag).toBe(sameHost.file({ repoId: 'acme/one-host', path: 'w.safetensors' }).etag);
    } finally {
      await sameHost.close();
    }
  });
});
