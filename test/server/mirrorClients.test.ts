/**
 * Real clients through a real mirror over real sockets: every file they get is the origin's,
 * and a second client of the same files moves no body byte upstream.
 */
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { downloadFileToCacheDir, scanCacheDir, snapshotDownload } from '@huggingface/hub';
import { createOrigin, type Origin } from '../helpers/origin/createOrigin.js';
import { linearRepo } from '../helpers/origin/fixture.js';
import { makeTempDir } from '../helpers/tempDir.js';
import { runCli } from '../helpers/runCli.js';
import { pythonHub, pythonScan, runPython } from '../helpers/pythonHub.js';
import { startMirror, type Mirror } from '../helpers/startMirror.js';
import { sha256File } from '../helpers/sha256File.js';

let origin: Origin;
let mirror: Mirror;
const FILES = ['README.md', 'config.json', 'model.safetensors', 'onnx/model.onnx'];

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
                { path: 'model.safetensors', source: { size: 3 * 1024 * 1024, seed: 'mirror-weights' } },
                { path: 'onnx/model.onnx', source: { size: 200_000, seed: 'mirror-onnx' } },
                { path: 'README.md', source: '# tiny' },
              ],
              refs: ['v1.0'],
            },
          ],
        }),
      ],
    },
  });
  mirror = await startMirror({ upstream: origin.url });
});
afterAll(async () => {
  await mirror?.close();
  await origin?.close();
});

async function expectOriginBytes(cacheDir: string, snapshotDir: string): Promise<void> {
  for (const path of FILES) {
    const expected = origin.file({ repoId: 'acme/tiny', path });
    const file = join(snapshotDir, path);
    expect(await sha256File(file), `${cacheDir}: ${path}`).toBe(expected.blob.sha256);
  }
}

describe('clients through the mirror get the origin bytes; the second client moves nothing upstream', () => {
  it('@huggingface/hub snapshotDownload, then downloadFileToCacheDir from a fresh cache', async () => {
    origin.stats.reset();
    const first = join(await makeTempDir(), 'hub');
    const snapshot = await snapshotDownload({ repo: 'acme/tiny', hubUrl: mirror.url, cacheDir: first });
    await expectOriginBytes(first, snapshot);
    const upstreamAfterFirst = origin.stats.bodyBytes;
    expect(upstreamAfterFirst).toBeGreaterThan(3 * 1024 * 1024);
    // hfjs's own scan accepts what it wrote through the mirror.
    expect((await scanCacheDir(first)).repos.map((r) => r.id.name)).toEqual(['acme/tiny']);

    const second = join(await makeTempDir(), 'hub');
    const path = await downloadFileToCacheDir({ repo: 'acme/tiny', path: 'model.safetensors', hubUrl: mirror.url, cacheDir: second });
    expect(await sha256File(path)).toBe(origin.file({ repoId: 'acme/tiny', path: 'model.safetensors' }).blob.sha256);
    expect(origin.stats.bodyBytes).toBe(upstreamAfterFirst);
  });

  it('hubcache download (whole repo and one file by tag), then again: no upstream body bytes', async () => {
    const cacheDir = join(await makeTempDir(), 'hub');
    const env = { HF_ENDPOINT: mirror.url, HF_TOKEN: undefined };
    const whole = await runCli({ args: ['download', 'acme/tiny', '--cache-dir', cacheDir], env });
    expect(whole.code, whole.stderr).toBe(0);
    await expectOriginBytes(cacheDir, whole.stdout.trim());
    origin.stats.reset();
    const other = join(await makeTempDir(), 'hub');
    const again = await runCli({ args: ['download', 'acme/tiny', '--cache-dir', other], env });
    expect(again.code, again.stderr).toBe(0);
    const one = await runCli({ args: ['download', 'acme/tiny', 'model.safetensors', '-r', 'v1.0', '--cache-dir', join(await makeTempDir(), 'hub')], env });
    expect(one.code, one.stderr).toBe(0);
    expect(origin.stats.bodyBytes).toBe(0);
    const verify = await runCli({ args: ['verify', '--cache-dir', other], env });
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
  });

  it('the mirror cache itself is a valid Hub cache (hubcache verify, @huggingface/hub and Python scans)', async () => {
    await snapshotDownload({ repo: 'acme/tiny', hubUrl: mirror.url, cacheDir: join(await makeTempDir(), 'hub') });
    const verify = await runCli({ args: ['verify', '--json', '--cache-dir', mirror.cacheDir], env: {} });
    expect(verify.code, verify.stdout).toBe(0);
    expect((await scanCacheDir(mirror.cacheDir)).repos.map((r) => r.id.name)).toEqual(['acme/tiny']);
    const python = pythonHub();
    if (python) {
      const scan = pythonScan(python, mirror.cacheDir);
      expect(scan.error).toBeUndefined();
      expect(scan.warnings).toEqual([]);
      expect(scan.repos.map((r) => r.repo_id)).toEqual(['acme/tiny']);
    }
  });

  it('Python huggingface_hub: hf_hub_download and snapshot_download (branch and tag) through the mirror', async () => {
    const python = pythonHub();
    if (!python) {
      console.warn('skipped: no Python huggingface_hub (.ci/python-hub.sh makes it)');
      return;
    }
    const cacheDir = join(await makeTempDir(), 'hub');
    const script = `
import sys
from huggingface_hub import hf_hub_download, snapshot_download
print(hf_hub_download('acme/tiny', 'model.safetensors'))
print(snapshot_download('acme/tiny'))
print(snapshot_download('acme/tiny', revision='v1.0'))
`;
    const result = await runPython({
      python,
      script,
      env: { HF_ENDPOINT: mirror.url, HF_HUB_CACHE: cacheDir, HF_HUB_DISABLE_PROGRESS_BARS: '1', HF_TOKEN: undefined, HF_HUB_DISABLE_TELEMETRY: '1' },
    });
    expect(result.status, result.stderr).toBe(0);
    const [file, snapshot] = result.stdout.trim().split('\n');
    expect(await sha256File(file!)).toBe(origin.file({ repoId: 'acme/tiny', path: 'model.safetensors' }).blob.sha256);
    await expectOriginBytes(cacheDir, snapshot!);
    expect(await readFile(join(cacheDir, 'models--acme--tiny', 'refs', 'main'), 'utf8')).toBe(basename(snapshot!));
    const scan = pythonScan(python, cacheDir);
    expect(scan.warnings).toEqual([]);
    expect(scan.repos[0]?.nb_files).toBe(FILES.length);
  });
});
