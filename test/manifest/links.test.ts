/** Stable links, where they live, and what the manifest pins. */
import { spawn } from 'node:child_process';
import { mkdir, readlink, readdir, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isHubcacheError } from '../../src/errors.js';
import { listManifestPins, manifestPins } from '../../src/manifest/manifestPins.js';
import { parseManifest } from '../../src/manifest/parseManifest.js';
import { resolveManifestCache } from '../../src/manifest/resolveManifestCache.js';
import { serviceLinkPath } from '../../src/manifest/serviceLinkPath.js';
import { writeServiceLink } from '../../src/manifest/writeServiceLink.js';
import { buildCache, fakeCommit } from '../helpers/cacheBuilder.js';
import { makeTempDir } from '../helpers/tempDir.js';

/** A separate process stats the path in a tight loop and reports failures and the targets it saw. */
function watchPath(params: { path: string }): { stop: () => Promise<{ reads: number; failures: number; seen: string[] }> } {
  const child = spawn(
    process.execPath,
    [
      '-e',
      `const fs = require('fs');
       let reads = 0, failures = 0; const seen = new Set(); let stop = false;
       process.stdin.on('data', () => { stop = true; });
       (function loop() {
         for (let i = 0; i < 2000 && !stop; i++) {
           try { fs.statSync(${JSON.stringify(params.path)}); seen.add(fs.readlinkSync(${JSON.stringify(params.path)})); reads++; } catch { failures++; }
         }
         if (stop) { process.stdout.write(JSON.stringify({ reads, failures, seen: [...seen] })); process.exit(0); }
         setImmediate(loop);
       })();`,
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  return {
    stop: () =>
      new Promise((resolve) => {
        child.on('close', () => resolve(JSON.parse(out)));
        child.stdin.write('stop\n');
      }),
  };
}

describe('writeServiceLink', () => {
  it('swaps a link between targets without a moment where the path is missing', async () => {
    const dir = await makeTempDir();
    const a = join(dir, 'hub', 'models--org--m', 'snapshots', fakeCommit('a'), 'model.gguf');
    const b = join(dir, 'hub', 'models--org--m', 'snapshots', fakeCommit('b'), 'model.gguf');
    for (const file of [a, b]) {
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, 'gguf');
    }
    const link = serviceLinkPath({ hfHome: dir, service: 'llama-cpp', name: 'model.gguf' });
    expect((await writeServiceLink({ linkPath: link, target: a })).change).toBe('created');
    const watcher = watchPath({ path: link });
    await new Promise((r) => setTimeout(r, 100));
    for (let i = 0; i < 1000; i++) await writeServiceLink({ linkPath: link, target: i % 2 === 0 ? b : a });
    await new Promise((r) => setTimeout(r, 50));
    const seen = await watcher.stop();
    expect(seen.failures).toBe(0);
    expect(seen.reads).toBeGreaterThan(1000);
    expect(seen.seen.sort()).toEqual([`../../hub/models--org--m/snapshots/${fakeCommit('a')}/model.gguf`, `../../hub/models--org--m/snapshots/${fakeCommit('b')}/model.gguf`].sort());
    expect(await readdir(dirname(link))).toEqual(['model.gguf']);
    expect((await writeServiceLink({ linkPath: link, target: a })).change).toBe('unchanged');
  });

  it('never replaces a real file or folder', async () => {
    const dir = await makeTempDir();
    const link = serviceLinkPath({ hfHome: dir, service: 's', name: 'model' });
    await mkdir(link, { recursive: true });
    await writeFile(join(link, 'mine.txt'), 'user data');
    const err = await writeServiceLink({ linkPath: link, target: join(dir, 'x') }).catch((e) => e);
    expect(isHubcacheError(err, 'E_CACHE_DAMAGED')).toBe(true);
    expect(await readdir(link)).toEqual(['mine.txt']);
  });

  it('refuses names that would leave links/<service>/', () => {
    expect(() => serviceLinkPath({ hfHome: '/h', service: '..', name: 'x' })).toThrow(/Invalid service name/);
    expect(() => serviceLinkPath({ hfHome: '/h', service: 's', name: '../../hub/x' })).toThrow(/Invalid link name/);
    expect(serviceLinkPath({ hfHome: '/h', service: 's', name: 'm.gguf' })).toBe('/h/links/s/m.gguf');
  });
});

describe('resolveManifestCache', () => {
  const manifest = (text: string) => parseManifest({ text: `${text}services: {}\n`, path: '/stack/hubcache.yaml' });
  const config = { cacheDir: '/env/hf/hub', hfHome: '/env/hf' };
  it('prefers --cache-dir, then the manifest, then the environment', () => {
    expect(resolveManifestCache({ manifest: manifest('hf_home: /data/hf\n'), config: { cacheDir: '/flag/hub', hfHome: '/env/hf' }, cacheDirFlag: '/flag/hub' })).toEqual({
      cacheDir: '/flag/hub',
      hfHome: '/flag',
      linksDir: '/flag/links',
      source: 'flag',
    });
    expect(resolveManifestCache({ manifest: manifest('hf_home: /data/hf\n'), config })).toMatchObject({ cacheDir: '/data/hf/hub', hfHome: '/data/hf', source: 'manifest' });
    expect(resolveManifestCache({ manifest: manifest('cache_dir: ../cache\n'), config })).toMatchObject({ cacheDir: '/cache', hfHome: '/', source: 'manifest' });
    expect(resolveManifestCache({ manifest: manifest(''), config })).toMatchObject({ cacheDir: '/env/hf/hub', hfHome: '/env/hf', linksDir: '/env/hf/links', source: 'env' });
    // HF_HUB_CACHE elsewhere: links go next to the cache, on its volume.
    expect(resolveManifestCache({ manifest: undefined, config: { cacheDir: '/vol/hub-cache', hfHome: '/home/u/.cache/huggingface' } })).toMatchObject({ hfHome: '/vol', linksDir: '/vol/links' });
  });
});

describe('manifestPins', () => {
  it('pins what each entry resolves to and what its links point at', async () => {
    const dir = await makeTempDir();
    const hfHome = join(dir, 'hf');
    const cacheDir = join(hfHome, 'hub');
    const old = fakeCommit('old');
    const now = fakeCommit('new');
    const tagged = fakeCommit('v1');
    await buildCache({
      cacheDir,
      repos: [
        {
          repoId: 'org/llm',
          revisions: [
            { commit: old, files: { 'model.gguf': 'v1' } },
            { commit: now, refs: ['main'], files: { 'model.gguf': 'v2' } },
          ],
        },
        { repoId: 'org/tts', revisions: [{ commit: tagged, refs: ['v1.0'], files: { 'a.bin': 'x' } }] },
        { repoId: 'org/unused', revisions: [{ refs: ['main'], files: { 'a.bin': 'y' } }] },
      ],
    });
    const manifestPath = join(dir, 'hubcache.yaml');
    await writeFile(
      manifestPath,
      `hf_home: ./hf
services:
  llama-cpp:
    models:
      - repo: org/llm
        files: [model.gguf]
        link: { name: model.gguf, env: MODEL_PATH }
  tts:
    models:
      - repo: org/tts
        revision: v1.0
      - repo: org/not-cached
`,
    );
    // The service still reads the old commit: main moved (another tool downloaded it) but no sync ran since.
    const link = join(hfHome, 'links', 'llama-cpp', 'model.gguf');
    await mkdir(dirname(link), { recursive: true });
    await symlink(`../../hub/models--org--llm/snapshots/${old}/model.gguf`, link);

    const pinned = await manifestPins({ manifestPath, cacheDir });
    expect([...pinned].sort()).toEqual([`models--org--llm/${now}`, `models--org--llm/${old}`, `models--org--tts/${tagged}`].sort());
    const list = await listManifestPins({ manifestPath, cacheDir });
    expect(list.pins.find((p) => p.commit === old)?.neededBy).toEqual(['llama-cpp (link model.gguf)']);
    expect(list.pins.find((p) => p.commit === now)?.neededBy).toEqual(['llama-cpp (org/llm@main)']);
    expect(await readlink(link)).toContain(old);
    // No manifest here: nothing pinned; a named one that is missing is an error, never silently no protection.
    expect((await manifestPins({ cacheDir, cwd: await makeTempDir() })).size).toBe(0);
    await expect(manifestPins({ cacheDir, manifestPath: join(dir, 'missing.yaml') })).rejects.toThrow(/not found/);
  });
});
