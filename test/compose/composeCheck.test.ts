/** `hubcache compose check` on crafted compose files: each problem found, at its line, with a fix. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeTempDir } from '../helpers/tempDir.js';
import { runCli } from '../helpers/runCli.js';

interface Finding {
  code: string;
  severity: 'problem' | 'note';
  service?: string;
  file: string;
  line: number;
  column: number;
  message: string;
  fix?: string;
}

async function check(params: { compose: string; manifest?: string; files?: Record<string, string>; args?: string[] }) {
  const dir = await makeTempDir();
  await writeFile(join(dir, 'docker-compose.yml'), params.compose);
  for (const [name, text] of Object.entries(params.files ?? {})) {
    await mkdir(join(dir, name, '..'), { recursive: true });
    await writeFile(join(dir, name), text);
  }
  if (params.manifest !== undefined) await writeFile(join(dir, 'hubcache.yaml'), params.manifest);
  const res = await runCli({ args: ['compose', 'check', '--json', ...(params.args ?? [])], cwd: dir, env: { HUBCACHE_MANIFEST: undefined } });
  const human = await runCli({ args: ['compose', 'check', ...(params.args ?? [])], cwd: dir, env: { HUBCACHE_MANIFEST: undefined } });
  const data = res.json();
  const findings = data.findings as Finding[];
  return { dir, res, human, data, findings, problems: findings.filter((f) => f.severity === 'problem') };
}

function only(findings: Finding[], code: string): Finding {
  const hits = findings.filter((f) => f.code === code);
  expect(hits, `${code} in ${JSON.stringify(findings, null, 1)}`).toHaveLength(1);
  return hits[0] as Finding;
}

const SHARING = `services:
  models:
    image: hubcache:local
    environment: { HF_HOME: /data/.huggingface }
    volumes: [hf-cache:/data/.huggingface]
  llama-cpp:
    image: llama
    environment:
      - HF_HOME=/data/.huggingface
    volumes:
      - hf-cache:/data/.huggingface
  whisperx:
    image: whisperx
    environment:
      - HF_HOME=/root/.cache/huggingface
    volumes:
      - hf-cache:/root/.cache/huggingface
  ovi:
    image: ovi
    environment:
      HF_HOME: /data/.huggingface/cache
    volumes:
      - type: volume
        source: hf-cache
        target: /data/.huggingface
  wan2gp:
    image: wan2gp
    environment:
      - HF_HUB_CACHE=/models/hub
    volumes:
      - hf-cache:/data/.huggingface
  infinitetalk:
    image: infinitetalk
    volumes:
      - hf-cache:/data/.huggingface
  vibevoice:
    image: vibevoice
    environment:
      - HF_HOME=/data/.huggingface
  other-cache:
    image: other
    environment:
      - HF_HOME=/cache
    volumes:
      - private-cache:/cache
volumes:
  hf-cache: {}
  private-cache: {}
`;

describe('compose check: sharing the cache volume', () => {
  it('finds different mount paths, HF_HOME/HF_HUB_CACHE mismatches and services not on the volume', async () => {
    const { res, human, data, findings, problems } = await check({ compose: SHARING });
    expect(res.code).toBe(1);
    expect(data.cacheVolume).toMatchObject({ key: 'volume:hf-cache', target: '/data/.huggingface' });

    const mount = only(findings, 'mount-path-differs');
    expect(mount).toMatchObject({ service: 'whisperx', file: 'docker-compose.yml', line: 17, column: 9 });
    expect(mount.message).toContain('mounts volume hf-cache at /root/.cache/huggingface, but models, llama-cpp, ovi, wan2gp, infinitetalk mount it at /data/.huggingface');
    expect(mount.fix).toContain('- hf-cache:/data/.huggingface');

    const differs = only(findings, 'hf-home-differs');
    expect(differs).toMatchObject({ service: 'ovi', line: 21, column: 7 });
    expect(differs.message).toContain('hf-cache:/cache/hub');
    expect(differs.fix).toBe('Set `HF_HOME=/data/.huggingface` (and drop HF_HUB_CACHE).');

    const outside = only(findings, 'hf-home-outside-mount');
    expect(outside).toMatchObject({ service: 'wan2gp', line: 29, column: 9 });
    expect(outside.message).toContain('HF_HUB_CACHE puts the hub cache at /models/hub, outside the volume hf-cache mount (/data/.huggingface)');
    expect(outside.fix).toContain('HF_HOME=/data/.huggingface');

    expect(only(findings, 'hf-home-unset')).toMatchObject({ service: 'infinitetalk', line: 35, column: 9, fix: 'Add `HF_HOME=/data/.huggingface` to its environment.' });
    expect(only(findings, 'hf-home-without-mount')).toMatchObject({ service: 'vibevoice', line: 39, column: 9 });
    const other = only(findings, 'different-cache-volume');
    expect(other).toMatchObject({ service: 'other-cache', line: 43 });
    expect(other.message).toContain('volume private-cache, not on volume hf-cache');
    expect(problems).toHaveLength(6);
    // Every problem says how to fix it.
    for (const p of problems) expect(p.fix, p.code).toBeTruthy();

    expect(human.code).toBe(1);
    expect(human.stdout).toContain('docker-compose.yml:17:9: problem [mount-path-differs] whisperx mounts volume hf-cache');
    expect(human.stdout).toContain('    fix: Mount it as `- hf-cache:/data/.huggingface`');
    expect(human.stdout).toContain('6 problem(s)');
  });

  it('reports a stack with no shared cache volume', async () => {
    const { res, findings } = await check({ compose: 'services:\n  a:\n    image: a\n    environment: [HF_HOME=/hf]\n' });
    expect(res.code).toBe(1);
    expect(only(findings, 'no-cache-volume').severity).toBe('problem');
  });

  it('takes the cache volume from --volume when the file does not say', async () => {
    const { res, data } = await check({
      compose: 'services:\n  a:\n    image: a\n    volumes: [models:/models]\n    environment: [HF_HOME=/models]\n  b:\n    image: b\n    volumes: [models:/models]\n    environment: [HF_HOME=/models]\n',
      args: ['--volume', 'models'],
    });
    expect(res.code).toBe(0);
    expect(data.cacheVolume).toMatchObject({ key: 'volume:models', target: '/models', services: ['a', 'b'] });
  });
});

const MANIFEST = `hf_home: /data/.huggingface
services:
  llama-cpp:
    models:
      - repo: Qwen/Qwen3-VL-30B-A3B-Instruct-GGUF
        files: [qwen3-vl-30b-a3b-instruct-q4_k_m.gguf]
        link: { name: model.gguf, env: MODEL_PATH }
  whisperx:
    models:
      - repo: openai/whisper-large-v3
        include: ["*.json", "*.safetensors"]
        link: { name: whisper, env: WHISPER_MODEL_DIR }
  tts:
    models:
      - repo: org/tts
  ghost:
    models: []
`;

const SEED_STACK = `services:
  llama-cpp:
    image: llama
    volumes:
      - hf-cache:/data/.huggingface
      - torch-cache:/data/.torch
    environment:
      - HF_HOME=/data/.huggingface
      - MODEL_PATH=/data/.huggingface/hub/models--Qwen--Qwen3-VL-30B-A3B-Instruct-GGUF/snapshots/latest/qwen3-vl-30b-a3b-instruct-q4_k_m.gguf
  whisperx:
    image: whisperx
    volumes: [hf-cache:/data/.huggingface]
    environment:
      HF_HOME: /data/.huggingface
      WHISPER_MODEL_DIR: /data/.huggingface/links/whisperx/whisper-large
  tts:
    image: tts
  ovi:
    image: ovi
    volumes: [hf-cache:/data/.huggingface]
    env_file:
      - ./env/ovi.env
      - path: ./env/missing.env
    environment:
      - HF_HOME=/data/.huggingface
volumes:
  hf-cache: {}
  torch-cache: {}
`;

describe('compose check: the manifest and model paths', () => {
  it('finds snapshots/latest, undeclared links, unmounted manifest services and env file problems', async () => {
    const { res, findings } = await check({
      compose: SEED_STACK,
      manifest: MANIFEST,
      files: { 'env/ovi.env': '# ovi\nOVI_CKPT_DIR="/data/.huggingface/hub/models--org--ovi/snapshots/main/ckpt"\n' },
    });
    expect(res.code).toBe(1);
    const latest = findings.filter((f) => f.code === 'snapshot-not-a-commit').sort((a, b) => a.line - b.line);
    expect(latest.map((f) => [f.service, f.file, f.line, f.column])).toEqual([
      ['ovi', './env/ovi.env', 2, 1],
      ['llama-cpp', 'docker-compose.yml', 9, 9],
    ]);
    latest.reverse();
    expect(latest[0]!.message).toContain('points into snapshots/latest/, which never exists');
    // The manifest declares this very file for llama-cpp: the fix is its stable link.
    expect(latest[0]!.fix).toBe('Use the stable link hubcache sync maintains: MODEL_PATH=/data/.huggingface/links/llama-cpp/model.gguf.');
    // Not declared for ovi: the fix says how to declare it.
    expect(latest[1]!.fix).toContain('- repo: org/ovi');
    expect(latest[1]!.fix).toContain('link: { name: ckpt, env: OVI_CKPT_DIR }');

    const link = only(findings, 'link-not-declared');
    expect(link).toMatchObject({ service: 'whisperx', line: 15, column: 7 });
    expect(link.message).toContain('names link whisperx/whisper-large, which hubcache.yaml does not declare');
    // The manifest has a link for this env name: that is the fix.
    expect(link.fix).toContain('Use the declared link: WHISPER_MODEL_DIR=/data/.huggingface/links/whisperx/whisper ');

    expect(only(findings, 'manifest-service-not-mounted')).toMatchObject({ service: 'tts', line: 16, column: 3 });
    expect(only(findings, 'manifest-service-missing')).toMatchObject({ severity: 'note', service: 'ghost', file: 'hubcache.yaml', line: 16, column: 3 });
    expect(only(findings, 'env-file-missing')).toMatchObject({ service: 'ovi', line: 23, column: 9 });
    expect(findings.filter((f) => f.severity === 'problem')).toHaveLength(5);
  });

  it('finds a manifest hf_home that is not where the services see the cache', async () => {
    const { res, findings } = await check({
      compose: 'services:\n  llama-cpp:\n    image: l\n    volumes: [hf-cache:/data/.huggingface]\n    environment: [HF_HOME=/data/.huggingface]\n',
      manifest: MANIFEST.replace('hf_home: /data/.huggingface', 'hf_home: /srv/hf').replace(/  whisperx:[\s\S]*/, ''),
    });
    expect(res.code).toBe(1);
    const f = only(findings, 'manifest-hf-home-differs');
    expect(f).toMatchObject({ service: 'llama-cpp', line: 5, column: 19 });
    expect(f.fix).toContain('set `hf_home: /data/.huggingface` in hubcache.yaml');
  });

  it('checks that paths resolve through a bind mount', async () => {
    const commit = 'a'.repeat(40);
    const compose = `services:
  llama-cpp:
    image: llama
    volumes:
      - ./hf:/data/.huggingface
    environment:
      - HF_HOME=/data/.huggingface
      - MODEL_PATH=/data/.huggingface/links/llama-cpp/model.gguf
    command: ["--model", "/data/.huggingface/hub/models--org--m/snapshots/${commit}/m.gguf"]
`;
    const manifest = 'hf_home: /data/.huggingface\nservices:\n  llama-cpp:\n    models:\n      - repo: org/m\n        files: [m.gguf]\n        link: { name: model.gguf, env: MODEL_PATH }\n';
    const first = await check({ compose, manifest });
    expect(first.res.code).toBe(1);
    const unresolved = first.findings.filter((f) => f.code === 'path-unresolved');
    expect(unresolved.map((f) => [f.line, f.column])).toEqual([
      [8, 9],
      [9, 26],
    ]);
    expect(unresolved[0]!.message).toContain(`checked ${join(first.dir, 'hf', 'links', 'llama-cpp', 'model.gguf')}`);
    expect(unresolved[0]!.fix).toContain('Run `hubcache sync`');
    expect(unresolved[1]!.fix).toContain(`hubcache download org/m m.gguf --revision ${commit}`);
    expect(only(first.findings, 'snapshot-commit-path').severity).toBe('note');

    // The same stack once the files exist.
    const second = await check({
      compose,
      manifest,
      files: { 'hf/links/llama-cpp/model.gguf': 'gguf', [`hf/hub/models--org--m/snapshots/${commit}/m.gguf`]: 'gguf' },
    });
    expect(second.problems).toEqual([]);
    expect(second.res.code).toBe(0);
    expect(second.human.stdout).toContain('OK: no problems');
  });
});
