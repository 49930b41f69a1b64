import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isHubcacheError } from '../../src/errors.js';
import { parseManifest, type ManifestIssue } from '../../src/manifest/parseManifest.js';
import { makeTempDir } from '../helpers/tempDir.js';
import { runCli } from '../helpers/runCli.js';

function issuesOf(text: string): ManifestIssue[] {
  try {
    parseManifest({ text, path: '/stack/hubcache.yaml', displayPath: 'hubcache.yaml' });
  } catch (err) {
    if (isHubcacheError(err, 'E_MANIFEST')) return err.data.issues as ManifestIssue[];
    throw err;
  }
  return [];
}

/** Every invalid manifest gives exactly one issue, at the expected line:column, saying what is wrong. */
function expectOneIssue(text: string, line: number, column: number, pattern: RegExp): void {
  const issues = issuesOf(text);
  expect(issues, JSON.stringify(issues)).toHaveLength(1);
  expect(issues[0]).toMatchObject({ line, column });
  expect(issues[0]!.message).toMatch(pattern);
}

const HEAD = 'hf_home: /data/.huggingface\nservices:\n  llama-cpp:\n    models:\n';

describe('parseManifest', () => {
  it('reads services, models, defaults, links and positions', () => {
    const m = parseManifest({
      path: '/stack/hubcache.yaml',
      text: `version: 1
hf_home: ./hf
x-note: anything
services:
  llama-cpp:
    models:
      - repo: Qwen/Qwen3-0.6B-GGUF
        files: [Qwen3-0.6B-Q8_0.gguf]
        link: { name: model.gguf, env: MODEL_PATH }
  whisperx:
    models:
      - repo: openai/whisper-large-v3
        revision: v1.0
        include: ["*.json", "*.safetensors"]
        exclude: [onnx/]
        link: whisper
      - repo: org/voices
        repo_type: dataset
        revision: 0123456789abcdef0123456789abcdef01234567
        files: [a/x.wav, a/y.wav, b.json]
        links:
          - { name: voices, path: a, env: VOICES_DIR }
          - { name: meta.json, path: b.json }
`,
    });
    expect(m.hfHome).toBe('/stack/hf');
    expect(m.cacheDir).toBeUndefined();
    expect(m.services.map((s) => s.name)).toEqual(['llama-cpp', 'whisperx']);
    const [llama, whisper] = m.services;
    expect(llama!.models[0]).toMatchObject({ repoType: 'model', repoId: 'Qwen/Qwen3-0.6B-GGUF', revision: 'main', files: ['Qwen3-0.6B-Q8_0.gguf'] });
    // One listed file: the link names the file itself.
    expect(llama!.models[0]!.links).toEqual([{ name: 'model.gguf', path: 'Qwen3-0.6B-Q8_0.gguf', env: 'MODEL_PATH', at: { line: 9, column: 23 } }]);
    expect(whisper!.models[0]).toMatchObject({ revision: 'v1.0', include: ['*.json', '*.safetensors'], exclude: ['onnx/'], files: undefined });
    // Globs: the link names the snapshot folder.
    expect(whisper!.models[0]!.links[0]).toMatchObject({ name: 'whisper', path: undefined, env: undefined });
    expect(whisper!.models[1]).toMatchObject({ repoType: 'dataset', repoId: 'org/voices' });
    expect(whisper!.models[1]!.links.map((l) => [l.name, l.path, l.env])).toEqual([
      ['voices', 'a', 'VOICES_DIR'],
      ['meta.json', 'b.json', undefined],
    ]);
    expect(whisper!.at).toEqual({ line: 10, column: 3 });
  });

  it('reports bad YAML with its position', () => {
    expectOneIssue(`${HEAD}      - repo: [a, b\n`, 6, 1, /flow sequence|must be sufficiently indented|end with a \]/i);
    expectOneIssue('services:\n  a:\n    models: []\n  a:\n    models: []\n', 4, 3, /unique/i);
    expectOneIssue('services: {}\n---\nservices: {}\n', 2, 1, /multiple documents/i);
  });

  it('reports unknown keys at every level, with a suggestion', () => {
    expectOneIssue('hf_hom: /x\nservices: {}\n', 1, 1, /unknown key "hf_hom" in the manifest \(did you mean "hf_home"\?\)/);
    expectOneIssue('services:\n  a:\n    model: []\n', 3, 5, /unknown key "model" in service "a" \(did you mean "models"\?\)/);
    expectOneIssue(`${HEAD}      - repo: org/m\n        lnk: x\n`, 6, 9, /unknown key "lnk" .*did you mean "link"/);
    expectOneIssue(`${HEAD}      - repo: org/m\n        link: { name: x, enviro: MODEL_PATH }\n`, 6, 26, /unknown key "enviro"; |unknown key "enviro" in the link/);
  });

  it('reports wrong types', () => {
    expectOneIssue(`${HEAD}      - repo: org/m\n        revision: 1.0\n`, 6, 19, /must be a string, got a number \(1\.0\) \(quote it: "1\.0"\)/);
    expectOneIssue(`${HEAD}      - repo: org/m\n        files: model.gguf\n`, 6, 16, /must be a list of strings.*\["model\.gguf"\]/);
    expectOneIssue('services: [a, b]\n', 1, 11, /"services" must be a map/);
    expectOneIssue(`${HEAD}      - org/m\n`, 5, 9, /must be a map of keys/);
    expectOneIssue('version: 2\nservices: {}\n', 1, 10, /"version" must be 1/);
  });

  it('rejects invalid repo ids and revisions', () => {
    expectOneIssue(`${HEAD}      - repo: org/sub/model\n`, 5, 15, /Invalid repo id "org\/sub\/model": it has more than one "\/"/);
    expectOneIssue(`${HEAD}      - repo: org--x/model\n`, 5, 15, /"--" is not allowed/);
    expectOneIssue(`${HEAD}      - repo: org/m\n        revision: "main..x"\n`, 6, 19, /Invalid revision/);
    expectOneIssue(`${HEAD}      - repo: org/m\n        repo_type: modle\n`, 6, 20, /"repo_type" must be one of model, dataset, space/);
    expectOneIssue(`${HEAD}      - revision: main\n`, 5, 9, /needs "repo"/);
  });

  it('rejects traversal in file paths and link names', () => {
    expectOneIssue(`${HEAD}      - repo: org/m\n        files: [../../etc/passwd]\n`, 6, 17, /invalid file path "\.\.\/\.\.\/etc\/passwd": it climbs out/);
    expectOneIssue(`${HEAD}      - repo: org/m\n        files: [/etc/passwd]\n`, 6, 17, /it is absolute/);
    expectOneIssue(`${HEAD}      - repo: org/m\n        files: [a.gguf]\n        link: { name: ../../evil, env: MODEL_PATH }\n`, 7, 23, /invalid link name "\.\.\/\.\.\/evil": it contains a path separator/);
    expectOneIssue(`${HEAD}      - repo: org/m\n        link: ..\n`, 6, 15, /invalid link name "\.\.": it names a folder/);
    expectOneIssue(`${HEAD}      - repo: org/m\n        link: .hidden\n`, 6, 15, /starts with "\."/);
    expectOneIssue(`${HEAD}      - repo: org/m\n        link: { name: x, path: a/../../b }\n`, 6, 32, /invalid link path .*climbs out/);
    expectOneIssue('services:\n  ../up:\n    models: []\n', 2, 3, /invalid service name "\.\.\/up"/);
  });

  it('checks env names, uniqueness and combinations', () => {
    expectOneIssue(`${HEAD}      - repo: org/m\n        link: { name: x, env: model-path }\n`, 6, 31, /invalid env name "model-path"/);
    expectOneIssue(
      `${HEAD}      - repo: org/a\n        link: { name: a, env: MODEL_PATH }\n      - repo: org/b\n        link: { name: b, env: MODEL_PATH }\n`,
      8,
      23,
      /env "MODEL_PATH" is set twice in service "llama-cpp" \(first at line 6\)/,
    );
    expectOneIssue(`${HEAD}      - repo: org/a\n        link: same\n      - repo: org/b\n        link: same\n`, 8, 15, /link name "same" is used twice/);
    expectOneIssue(`${HEAD}      - repo: org/a\n        files: [a.gguf]\n        include: ["*.gguf"]\n`, 7, 9, /"files" and "include" cannot be combined/);
    expectOneIssue(`${HEAD}      - repo: org/a\n        files: [a.gguf]\n        link: { name: x, path: b.gguf }\n`, 7, 32, /link path "b\.gguf" is not one of the model's "files"/);
    expectOneIssue(`${HEAD}      - repo: org/a\n        link: a\n        links: [b]\n`, 7, 9, /either "link" .* or "links"/);
    expectOneIssue(`${HEAD}      - repo: org/a\n        link: { env: MODEL_PATH }\n`, 6, 15, /needs "name"/);
  });

  it('refuses paths it would not expand', () => {
    expectOneIssue('hf_home: ~/hf\nservices: {}\n', 1, 10, /"~" and "\$VARS" are not expanded/);
    expectOneIssue('', 1, 1, /the manifest is empty/);
    expectOneIssue('hf_home: /x\n', 1, 1, /needs a "services:" map/);
  });

  it('lists several problems at once, each with its position', () => {
    const issues = issuesOf(`${HEAD}      - repo: a/b/c\n        lnk: x\n`);
    expect(issues.map((i) => [i.line, i.column])).toEqual([
      [5, 15],
      [6, 9],
    ]);
  });
});

describe('manifest errors on the command line', () => {
  it('prints file:line:column and exits 2', async () => {
    const dir = await makeTempDir();
    await writeFile(join(dir, 'hubcache.yaml'), `${HEAD}      - repo: org/m\n        files: [../secret]\n`);
    const res = await runCli({ args: ['sync', '--cache-dir', join(dir, 'hub'), '--offline'], cwd: dir });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('error: hubcache.yaml:6:17: invalid file path "../secret": it climbs out of its folder ("..")');
    const json = await runCli({ args: ['env', 'llama-cpp', '-f', join(dir, 'hubcache.yaml'), '--json'], cwd: dir });
    expect(json.code).toBe(2);
    expect(json.json().error).toMatchObject({ code: 'E_MANIFEST', data: { issues: [{ line: 6, column: 17 }] } });
  });

  it('says when no manifest is found', async () => {
    const dir = await makeTempDir();
    const res = await runCli({ args: ['sync', '--offline'], cwd: dir });
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/Manifest hubcache\.yaml not found/);
    const env = await runCli({ args: ['sync', '--offline'], cwd: dir, env: { HUBCACHE_MANIFEST: join(dir, 'nope.yaml') } });
    expect(env.stderr).toMatch(/nope\.yaml not found \(named by \$HUBCACHE_MANIFEST\)/);
  });
});
