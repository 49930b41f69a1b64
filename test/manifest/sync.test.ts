/**
 * `hubcache sync` / `hubcache env` end to end: the built CLI against the test
 * origin, 3 services needing 5 models (one shared by two services).
 */
import { lstat, readdir, readFile, readlink, stat, writeFile, mkdir } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOrigin, type Origin } from '../helpers/origin/createOrigin.js';
import { generatedFile } from '../helpers/origin/generatedFile.js';
import { linearRepo, type Fixture, type FixtureFile } from '../helpers/origin/fixture.js';
import { makeTempDir } from '../helpers/tempDir.js';
import { runCli } from '../helpers/runCli.js';

/** `moved`: main of org/llm-gguf gained a commit that replaces model-q4.gguf. */
function models(params: { moved: boolean }): Fixture {
  return {
    repos: [
      linearRepo({
        repoId: 'org/llm-gguf',
        commits: [
          {
            files: [
              { path: 'README.md', source: '# llm\n' },
              { path: 'model-q4.gguf', source: { size: 300_000, seed: 'gguf-v1' } },
              { path: 'model-q8.gguf', source: { size: 500_000, seed: 'gguf-q8' } },
            ],
          },
          ...(params.moved ? [{ files: [{ path: 'model-q4.gguf', source: { size: 300_000, seed: 'gguf-v2' } }] }] : []),
        ],
      }),
      linearRepo({
        repoId: 'org/whisper',
        commits: [
          {
            files: [
              { path: 'README.md', source: '# whisper\n' },
              { path: 'config.json', source: '{"model_type": "whisper"}\n' },
              { path: 'tokenizer.json', source: '{"vocab": {}}\n' },
              { path: 'model.safetensors', source: { size: 150_000, seed: 'whisper-weights' } },
              { path: 'onnx/encoder.onnx', source: { size: 80_000, seed: 'whisper-onnx' } },
            ],
          },
        ],
      }),
      linearRepo({
        repoId: 'org/diarization',
        commits: [
          { files: [{ path: 'config.yaml', source: 'version: 1\n' }], refs: ['v1.0'] },
          { files: [{ path: 'config.yaml', source: 'version: 2\n' }] },
        ],
      }),
      linearRepo({
        repoId: 'org/embedder',
        commits: [
          {
            files: [
              { path: 'config.json', source: '{"dim": 384}\n' },
              { path: 'model.safetensors', source: { size: 90_000, seed: 'embedder-weights' } },
              { path: '1_Pooling/config.json', source: '{"pooling": "mean"}\n' },
            ],
          },
        ],
      }),
      linearRepo({
        repoId: 'org/voices',
        repoType: 'dataset',
        commits: [
          {
            files: [
              { path: 'README.md', source: '# voices\n' },
              { path: 'data/a.wav', source: { size: 40_000, seed: 'voice-a' } },
              { path: 'data/b.wav', source: { size: 30_000, seed: 'voice-b' } },
            ],
          },
        ],
      }),
    ],
  };
}

function manifestText(hfHome: string): string {
  return `# 3 services, 5 models
hf_home: ${hfHome}
services:
  llama-cpp:
    models:
      - repo: org/llm-gguf
        files: [model-q4.gguf]
        link: { name: model.gguf, env: MODEL_PATH }
  whisperx:
    models:
      - repo: org/whisper
        include: ["*.json", "*.safetensors"]
        link: { name: whisper, env: WHISPER_MODEL_DIR }
      - repo: org/diarization
        revision: v1.0
        files: [config.yaml]
        link: { name: diarization.yaml, env: DIARIZATION_CONFIG }
  tts:
    models:
      - repo: org/embedder
        files: [config.json, model.safetensors, 1_Pooling/config.json]
        links:
          - { name: embedder, env: EMBEDDER_DIR }
          - { name: pooling, path: 1_Pooling, env: POOLING_DIR }
      - repo: org/voices
        repo_type: dataset
        include: ["data/*"]
        link: { name: voices, env: VOICES_DIR }
      - repo: org/whisper
        include: ["*.json", "*.safetensors"]
        link: { name: whisper, env: WHISPER_MODEL_DIR }
`;
}

/** Bytes of the files the manifest selects, each blob once. */
function wantedBytes(origin: Origin): number {
  const picks: Array<[string, string, 'model' | 'dataset', string?]> = [
    ['org/llm-gguf', 'model-q4.gguf', 'model'],
    ['org/whisper', 'config.json', 'model'],
    ['org/whisper', 'tokenizer.json', 'model'],
    ['org/whisper', 'model.safetensors', 'model'],
    ['org/diarization', 'config.yaml', 'model', 'v1.0'],
    ['org/embedder', 'config.json', 'model'],
    ['org/embedder', 'model.safetensors', 'model'],
    ['org/embedder', '1_Pooling/config.json', 'model'],
    ['org/voices', 'data/a.wav', 'dataset'],
    ['org/voices', 'data/b.wav', 'dataset'],
  ];
  return picks.reduce((n, [repoId, path, repoType, revision]) => n + origin.file({ repoId, repoType, path, ...(revision ? { revision } : {}) }).blob.size, 0);
}

async function sourceBytes(file: FixtureFile['source']): Promise<Buffer> {
  if (typeof file === 'string') return Buffer.from(file);
  if (file instanceof Uint8Array) return Buffer.from(file);
  if ('file' in file) return readFile(file.file);
  return readFile((await generatedFile({ size: file.size, seed: file.seed ?? 'hubcache' })).path);
}

describe('hubcache sync', () => {
  let origin: Origin;
  let dir: string;
  let hfHome: string;
  let manifestPath: string;
  const links = (...parts: string[]): string => join(hfHome, 'links', ...parts);
  const sync = (args: string[] = [], env: Record<string, string> = {}) =>
    runCli({ args: ['sync', '-f', manifestPath, '--endpoint', origin.url, ...args], env: { HF_HOME: join(dir, 'not-this-one'), HF_HUB_CACHE: undefined, HF_TOKEN: undefined, ...env } });

  beforeAll(async () => {
    origin = await createOrigin({ fixture: models({ moved: false }) });
    dir = await makeTempDir();
    hfHome = join(dir, 'hf');
    manifestPath = join(dir, 'hubcache.yaml');
    await writeFile(manifestPath, manifestText(hfHome));
  });
  afterAll(async () => {
    await origin?.close();
  });

  it('first sync downloads each needed file once and writes relative links', async () => {
    origin.stats.reset();
    const res = await sync(['--json']);
    expect(res.code, res.stderr).toBe(0);
    const result = res.json();
    expect(result.ok).toBe(true);
    // The manifest's hf_home wins over $HF_HOME.
    expect(result.cacheDir).toBe(join(hfHome, 'hub'));
    expect(result.services.map((s: any) => [s.name, s.ok])).toEqual([
      ['llama-cpp', true],
      ['whisperx', true],
      ['tts', true],
    ]);
    // Every selected file's body crossed the network exactly once (org/whisper is shared by two services).
    expect(origin.stats.bodyBytes).toBe(wantedBytes(origin));
    for (const [etag, bytes] of origin.stats.bytesByBlob) {
      const size = [...origin.fixture.blobsBySha256.values()].find((b) => b.sha256 === etag || b.gitSha1 === etag)?.size;
      expect(bytes, etag).toBe(size);
    }
    // Not selected: the other quantization, the ONNX export, READMEs.
    const snapshots = await readdir(join(hfHome, 'hub', 'models--org--llm-gguf', 'snapshots'));
    expect(await readdir(join(hfHome, 'hub', 'models--org--llm-gguf', 'snapshots', snapshots[0]!))).toEqual(['model-q4.gguf']);
    expect(await readdir(join(hfHome, 'hub', 'models--org--whisper', 'snapshots', (await readdir(join(hfHome, 'hub', 'models--org--whisper', 'snapshots')))[0]!))).toEqual([
      'config.json',
      'model.safetensors',
      'tokenizer.json',
    ]);

    const gguf = links('llama-cpp', 'model.gguf');
    const text = await readlink(gguf);
    expect(isAbsolute(text)).toBe(false);
    expect(text).toMatch(/^\.\.\/\.\.\/hub\/models--org--llm-gguf\/snapshots\/[0-9a-f]{40}\/model-q4\.gguf$/);
    expect(await readFile(gguf)).toEqual(await sourceBytes({ size: 300_000, seed: 'gguf-v1' }));
    // Folder links: the snapshot folder, or a folder inside it.
    expect(await readlink(links('whisperx', 'whisper'))).toMatch(/^\.\.\/\.\.\/hub\/models--org--whisper\/snapshots\/[0-9a-f]{40}$/);
    expect((await readdir(links('tts', 'whisper'))).sort()).toEqual(['config.json', 'model.safetensors', 'tokenizer.json']);
    expect(await readFile(join(links('tts', 'pooling'), 'config.json'), 'utf8')).toBe('{"pooling": "mean"}\n');
    expect((await readdir(links('tts', 'voices'))).sort()).toEqual(['data']);
    // Revision v1.0, not main.
    expect(await readFile(links('whisperx', 'diarization.yaml'), 'utf8')).toBe('version: 1\n');
  });

  it('second sync transfers no body bytes and changes no link', async () => {
    const before = await readlink(links('llama-cpp', 'model.gguf'));
    origin.stats.reset();
    const res = await sync(['--json']);
    expect(res.code, res.stderr).toBe(0);
    expect(origin.stats.bodyBytes).toBe(0);
    expect(origin.stats.requests.cdn + origin.stats.requests.getResolve).toBe(0);
    const changes = res.json().services.flatMap((s: any) => s.models.flatMap((m: any) => m.links.map((l: any) => l.change)));
    expect(new Set(changes)).toEqual(new Set(['unchanged']));
    expect(await readlink(links('llama-cpp', 'model.gguf'))).toBe(before);
    const human = await sync();
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/SERVICE\s+STATUS\s+MODELS\s+DOWNLOADED\s+LINKS/);
    expect(human.stdout).toMatch(/tts\s+ok\s+3\/3\s+-\s+embedder, pooling, voices, whisper/);
    expect(human.stdout).toContain('3 service(s) complete; downloaded 0 B');
  });

  it('env prints stable link paths that resolve to the synced files', async () => {
    const res = await runCli({ args: ['env', 'llama-cpp', '-f', manifestPath] });
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toBe(`MODEL_PATH=${links('llama-cpp', 'model.gguf')}\n`);
    const json = await runCli({ args: ['env', 'tts', '-f', manifestPath, '--format', 'json'] });
    expect(json.code, json.stderr).toBe(0);
    const vars = json.json<Record<string, string>>();
    expect(Object.keys(vars)).toEqual(['EMBEDDER_DIR', 'POOLING_DIR', 'VOICES_DIR', 'WHISPER_MODEL_DIR']);
    for (const path of Object.values(vars)) expect((await stat(path)).isDirectory()).toBe(true);
    expect((await stat(join(vars.EMBEDDER_DIR!, 'model.safetensors'))).size).toBe(90_000);
    const whisperx = await runCli({ args: ['env', 'whisperx', '-f', manifestPath, '--json'] });
    expect(whisperx.json().vars.map((v: any) => [v.name, v.state])).toEqual([
      ['WHISPER_MODEL_DIR', 'ok'],
      ['DIARIZATION_CONFIG', 'ok'],
    ]);
  });

  it('moves the link atomically when the revision moves', async () => {
    const gguf = links('llama-cpp', 'model.gguf');
    const oldText = await readlink(gguf);
    const envBefore = (await runCli({ args: ['env', 'llama-cpp', '-f', manifestPath] })).stdout;
    await origin.setFixture(models({ moved: true }));
    origin.stats.reset();
    // A service reading the path the whole time must never find it missing.
    let running = true;
    let reads = 0;
    const failures: string[] = [];
    const reader = (async () => {
      while (running) {
        try {
          await stat(gguf);
          reads += 1;
        } catch (err) {
          failures.push((err as Error).message);
        }
        await new Promise((r) => setImmediate(r));
      }
    })();
    const res = await sync(['--json']);
    running = false;
    await reader;
    expect(res.code, res.stderr).toBe(0);
    expect(failures).toEqual([]);
    expect(reads).toBeGreaterThan(10);
    // Only the changed file was fetched.
    expect(origin.stats.bodyBytes).toBe(300_000);
    const model = res.json().services[0].models[0];
    expect(model.links[0].change).toBe('updated');
    const newText = await readlink(gguf);
    expect(newText).not.toBe(oldText);
    expect(newText).toContain(model.commit);
    expect(await readFile(gguf)).toEqual(await sourceBytes({ size: 300_000, seed: 'gguf-v2' }));
    // The old snapshot is still there (prune/evict decide), and nothing half-made is left behind.
    expect((await stat(resolve(dirname(gguf), oldText))).size).toBe(300_000);
    expect((await readdir(links('llama-cpp'))).sort()).toEqual(['model.gguf']);
    // The env file stays right: the path never changes.
    expect((await runCli({ args: ['env', 'llama-cpp', '-f', manifestPath] })).stdout).toBe(envBefore);
  });

  it('works offline from the cache', async () => {
    origin.stats.reset();
    const res = await sync(['--offline', '--json']);
    expect(res.code, res.stderr).toBe(0);
    expect(res.json().ok).toBe(true);
    expect(origin.stats.requests.api + origin.stats.requests.head + origin.stats.bodyBytes).toBe(0);
  });

  it('reports unused repos and removes undeclared links of its services', async () => {
    await mkdir(join(hfHome, 'hub', 'models--old--unused', 'snapshots'), { recursive: true });
    const { symlink } = await import('node:fs/promises');
    await symlink('../../hub/models--old--unused', links('tts', 'forgotten'));
    const res = await sync(['--json']);
    expect(res.code, res.stderr).toBe(0);
    const result = res.json();
    expect(result.unusedRepos).toEqual(['old/unused']);
    expect(result.services[2].staleLinks).toEqual([links('tts', 'forgotten')]);
    expect(await lstat(links('tts', 'forgotten')).catch(() => undefined)).toBeUndefined();
  });

  it('exits 1 and names the incomplete service; the others stay complete and keep their links', async () => {
    const broken = join(dir, 'broken.yaml');
    await writeFile(
      broken,
      `${manifestText(hfHome)}  extra:
    models:
      - repo: org/llm-gguf
        files: [model-q4.gguf, missing.gguf]
        link: { name: model.gguf, env: MODEL_PATH }
      - repo: org/nope
        link: nope
`,
    );
    const res = await runCli({ args: ['sync', '-f', broken, '--endpoint', origin.url] });
    expect(res.code).toBe(1);
    expect(res.stdout).toMatch(/extra\s+FAILED\s+0\/2/);
    expect(res.stdout).toContain('extra: org/llm-gguf@main: missing - missing missing.gguf');
    expect(res.stdout).toMatch(/extra: org\/nope@main: failed/);
    expect(res.stdout).toContain('INCOMPLETE: extra (1 of 4 service(s))');
    expect(res.stdout).toMatch(/llama-cpp\s+ok/);
    const json = await runCli({ args: ['sync', '-f', broken, '--endpoint', origin.url, '--json', '--service', 'extra'] });
    expect(json.code).toBe(1);
    const extra = json.json().services;
    expect(extra).toHaveLength(1);
    expect(extra[0].models[0]).toMatchObject({ status: 'missing', missing: ['missing.gguf'], error: { code: 'E_ENTRY_NOT_FOUND' } });
    expect(extra[0].models[1]).toMatchObject({ status: 'failed', error: { code: 'E_REPO_NOT_FOUND' } });
    // No link for an incomplete model.
    expect(await lstat(links('extra', 'model.gguf')).catch(() => undefined)).toBeUndefined();
    const unknown = await runCli({ args: ['sync', '-f', broken, '--service', 'nobody'] });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('No service "nobody"');
  });

  it('--dry-run says what would be downloaded and changes nothing', async () => {
    const fresh = join(await makeTempDir(), 'hf');
    const path = join(dirname(fresh), 'hubcache.yaml');
    await writeFile(path, manifestText(fresh));
    origin.stats.reset();
    const res = await runCli({ args: ['sync', '-f', path, '--endpoint', origin.url, '--dry-run', '--json'] });
    expect(res.code, res.stderr).toBe(0);
    const result = res.json();
    expect(result.dryRun).toBe(true);
    const llama = result.services[0].models[0];
    expect(llama.wouldDownload).toEqual([{ path: 'model-q4.gguf', size: 300_000 }]);
    expect(llama.links[0].change).toBe('would-create');
    expect(origin.stats.bodyBytes).toBe(0);
    expect(await stat(fresh).catch(() => undefined)).toBeUndefined();
    const human = await runCli({ args: ['sync', '-f', path, '--endpoint', origin.url, '--dry-run'] });
    expect(human.stdout).toMatch(/llama-cpp\s+ok\s+1\/1\s+1 file\(s\), 300 kB/);
    expect(human.stdout).toContain('llama-cpp: org/llm-gguf@main');
    expect(human.stdout).toContain('would download model-q4.gguf (300 kB)');
  });

  it('env exits 1 and says to run sync when a link is missing', async () => {
    const fresh = join(await makeTempDir(), 'hf');
    const path = join(dirname(fresh), 'hubcache.yaml');
    await writeFile(path, manifestText(fresh));
    const res = await runCli({ args: ['env', 'llama-cpp', '-f', path] });
    expect(res.code).toBe(1);
    expect(res.stdout).toBe(`MODEL_PATH=${join(fresh, 'links', 'llama-cpp', 'model.gguf')}\n`);
    expect(res.stderr).toMatch(/MODEL_PATH: link llama-cpp\/model\.gguf does not exist yet .*run `hubcache sync`/);
    const unchecked = await runCli({ args: ['env', 'llama-cpp', '-f', path, '--no-check', '--hf-home', '/data/.huggingface'] });
    expect(unchecked.code).toBe(0);
    expect(unchecked.stdout).toBe('MODEL_PATH=/data/.huggingface/links/llama-cpp/model.gguf\n');
  });
});
