/**
 * The Docker assets shipped in docker/: the example stack passes `compose
 * check` (and resolves once synced against the test origin), its env files
 * are what `hubcache env` prints, and the Dockerfile only copies what exists.
 */
import { access, constants, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createOrigin, type Origin } from '../helpers/origin/createOrigin.js';
import { linearRepo } from '../helpers/origin/fixture.js';
import { makeTempDir } from '../helpers/tempDir.js';
import { runCli } from '../helpers/runCli.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DOCKER = join(ROOT, 'docker');
const COMPOSE = join(DOCKER, 'docker-compose.yml');
const MANIFEST = join(DOCKER, 'hubcache.yaml');
const noEnv = { HUBCACHE_MANIFEST: undefined, HF_HOME: undefined, HF_HUB_CACHE: undefined };

describe('docker/docker-compose.yml', () => {
  it('passes compose check against its manifest', async () => {
    const res = await runCli({ args: ['compose', 'check', COMPOSE, '-f', MANIFEST, '--json'], env: noEnv });
    expect(res.code, res.stdout).toBe(0);
    const data = res.json();
    expect(data.problems).toBe(0);
    expect(data.cacheVolume).toMatchObject({ key: 'volume:hf-cache', target: '/data/.huggingface', services: ['models', 'llama-cpp', 'whisperx', 'youtube-tools'] });
    // Named volume and no local copy of it: paths were only pattern-checked, and it says so.
    expect(data.findings.map((f: any) => f.code)).toEqual(['paths-not-checked']);
    const human = await runCli({ args: ['compose', 'check', 'docker-compose.yml', '--manifest', 'hubcache.yaml'], cwd: DOCKER, env: noEnv });
    expect(human.code).toBe(0);
    expect(human.stdout).toContain('OK: no problems');
  });

  it('runs hubcache sync first and starts the model services after it completed', async () => {
    const compose = parse(await readFile(COMPOSE, 'utf8'));
    const manifest = parse(await readFile(MANIFEST, 'utf8'));
    expect(compose.services.models.command).toEqual(['sync']);
    expect(compose.services.models.environment.HUBCACHE_MANIFEST).toBe('/etc/hubcache/hubcache.yaml');
    expect(compose.services.models.volumes).toContain('./hubcache.yaml:/etc/hubcache/hubcache.yaml:ro');
    for (const name of Object.keys(manifest.services)) {
      expect(compose.services[name].depends_on.models.condition, name).toBe('service_completed_successfully');
      expect(compose.services[name].env_file, name).toBeDefined();
    }
  });

  it('ships env files that are exactly what `hubcache env` prints', async () => {
    const manifest = parse(await readFile(MANIFEST, 'utf8'));
    for (const name of Object.keys(manifest.services)) {
      const res = await runCli({ args: ['env', name, '-f', MANIFEST, '--no-check'], env: noEnv });
      expect(res.code, res.stderr).toBe(0);
      expect(await readFile(join(DOCKER, 'env', `${name}.env`), 'utf8'), name).toBe(res.stdout);
    }
  });

  describe('synced against the test origin', () => {
    let origin: Origin;
    let hubDir: string;
    beforeAll(async () => {
      // The example's repos, with tiny files of the same names.
      origin = await createOrigin({
        fixture: {
          repos: [
            linearRepo({
              repoId: 'Qwen/Qwen3-VL-30B-A3B-Instruct-GGUF',
              commits: [
                {
                  files: [
                    { path: 'qwen3-vl-30b-a3b-instruct-q4_k_m.gguf', source: { size: 64_000, seed: 'example-qwen' } },
                    { path: 'qwen3-vl-30b-a3b-instruct-q8_0.gguf', source: { size: 96_000, seed: 'example-qwen-q8' } },
                  ],
                },
              ],
            }),
            linearRepo({
              repoId: 'Systran/faster-whisper-large-v3',
              commits: [
                {
                  files: [
                    { path: 'README.md', source: '# faster-whisper\n' },
                    { path: 'config.json', source: '{}\n' },
                    { path: 'tokenizer.json', source: '{}\n' },
                    { path: 'vocabulary.txt', source: 'a\nb\n' },
                    { path: 'model.bin', source: { size: 50_000, seed: 'example-whisper' } },
                  ],
                },
              ],
            }),
            linearRepo({ repoId: 'pyannote/speaker-diarization-3.1', commits: [{ files: [{ path: 'config.yaml', source: 'pipeline: {}\n' }] }] }),
          ],
        },
      });
      hubDir = join(await makeTempDir(), 'volume', '.huggingface', 'hub');
    });
    afterAll(async () => {
      await origin?.close();
    });

    it('reports unresolved paths before the sync and none after', async () => {
      // --cache-dir: this folder is the volume's hub cache, so its paths can be checked.
      const before = await runCli({ args: ['compose', 'check', COMPOSE, '-f', MANIFEST, '--cache-dir', hubDir, '--json'], env: noEnv });
      expect(before.code).toBe(1);
      const unresolved = before.json().findings.filter((f: any) => f.code === 'path-unresolved');
      expect(unresolved.map((f: any) => f.service).sort()).toEqual(['llama-cpp', 'llama-cpp', 'whisperx', 'whisperx', 'youtube-tools']);

      const sync = await runCli({ args: ['sync', '-f', MANIFEST, '--cache-dir', hubDir, '--endpoint', origin.url], env: noEnv });
      expect(sync.code, sync.stdout + sync.stderr).toBe(0);
      // config.json and tokenizer.json have the same bytes: one blob, fetched once.
      expect(origin.stats.bodyBytes).toBe(64_000 + 50_000 + 3 + 4 + 'pipeline: {}\n'.length);

      const after = await runCli({ args: ['compose', 'check', COMPOSE, '-f', MANIFEST, '--cache-dir', hubDir, '--json'], env: noEnv });
      expect(after.code, after.stdout).toBe(0);
      expect(after.json().findings).toEqual([]);
      expect((await stat(join(hubDir, '..', 'links', 'llama-cpp', 'model.gguf'))).size).toBe(64_000);
    });
  });
});

describe('docker/Dockerfile', () => {
  it('copies only files that exist and are not excluded from the build context', async () => {
    const dockerfile = await readFile(join(DOCKER, 'Dockerfile'), 'utf8');
    const ignored = (await readFile(join(ROOT, '.dockerignore'), 'utf8'))
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    const sources = dockerfile
      .split('\n')
      .filter((l) => /^COPY\s/.test(l) && !l.includes('--from='))
      .flatMap((l) => l.trim().split(/\s+/).slice(1, -1));
    expect(sources).toContain('src');
    for (const source of sources) {
      await access(join(ROOT, source));
      expect(ignored, source).not.toContain(source.split('/')[0]);
    }
    // Multi-stage: compilers only in the build stage; non-root and the umask entry point at run time.
    const stages = dockerfile.split(/^FROM /m).slice(1);
    expect(stages).toHaveLength(2);
    expect(stages[0]).toMatch(/^node:20-bookworm-slim AS build/);
    expect(stages[0]).toMatch(/python3 make g\+\+/);
    expect(stages[1]).not.toMatch(/apt-get|g\+\+/);
    expect(stages[1]).toMatch(/^USER node$/m);
    expect(stages[1]).toMatch(/^ENTRYPOINT \["hubcache"\]$/m);
    expect(stages[1]).toContain('COPY docker/hubcache.sh /usr/local/bin/hubcache');
    expect(stages[1]).toContain('build/Release/hubcache_flock.node');
  });

  it('has an executable entry point that sets a group-friendly umask', async () => {
    const script = join(DOCKER, 'hubcache.sh');
    await access(script, constants.X_OK);
    const text = await readFile(script, 'utf8');
    expect(text.startsWith('#!/bin/sh\n')).toBe(true);
    expect(text).toMatch(/^umask "\$\{HUBCACHE_UMASK:-002\}"$/m);
    expect(text).toMatch(/^exec node \/opt\/hubcache\/bin\/hubcache\.cjs "\$@"$/m);
  });
});
