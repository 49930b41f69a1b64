/**
 * schema/hubcache.schema.json is what editors check; parseManifest is what
 * hubcache checks. The same examples must pass or fail in both.
 */
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import Ajv2020 from 'ajv/dist/2020.js';
import { parse } from 'yaml';
import { parseManifest } from '../../src/manifest/parseManifest.js';

const schema = JSON.parse(await readFile(new URL('../../schema/hubcache.schema.json', import.meta.url), 'utf8'));
const ajv = new (Ajv2020 as unknown as typeof Ajv2020.default)({ allErrors: true, strict: true, strictRequired: false });
const validate = ajv.compile(schema);

function validatorAccepts(text: string): boolean {
  try {
    parseManifest({ text, path: '/stack/hubcache.yaml' });
    return true;
  } catch {
    return false;
  }
}

const model = (body: string): string => `hf_home: /data/.huggingface\nservices:\n  svc:\n    models:\n      - ${body.split('\n').join('\n        ')}\n`;

const VALID = [
  'services: {}',
  'version: 1\nhf_home: /data/.huggingface\nservices: {}',
  'cache_dir: ./cache\nservices:\n  a:\n    models: []',
  'services:\n  llama-cpp:\n    models: []\n  x-notes: free text',
  model('repo: gpt2'),
  model('repo: Qwen/Qwen3-0.6B-GGUF\nrevision: main\nfiles: [Qwen3-0.6B-Q8_0.gguf]\nlink: { name: model.gguf, env: MODEL_PATH }'),
  model('repo: openai/whisper-large-v3\nrevision: refs/pr/1\ninclude: ["*.json"]\nexclude: ["onnx/"]\nlink: whisper'),
  model('repo: org/data\nrepo_type: dataset\nrevision: 0123456789abcdef0123456789abcdef01234567\nfiles: [a/b.parquet, c.json]\nlinks: [data, { name: c.json, path: c.json }]'),
  model('repo: org/m\nrevision: v1.0\nx-comment: pinned for the demo\nlink: { name: m, x-why: stable }'),
  model('repo: org/m.v2_x-y\nlinks: []'),
];

const INVALID = [
  // keys and types
  'services: []',
  'hf_hom: /x\nservices: {}',
  'version: 2\nservices: {}',
  'hf_home: ~/hf\nservices: {}',
  'hf_home: ""\nservices: {}',
  'hf_home: /x',
  'services:\n  a:\n    model: []',
  'services:\n  a: {}',
  'services:\n  ../a:\n    models: []',
  'services:\n  .a:\n    models: []',
  model('rpo: org/m'),
  model('repo: org/m\nrevision: 1.0'),
  model('repo: org/m\nfiles: a.gguf'),
  model('repo: org/m\nfiles: []'),
  model('repo: org/m\ninclude: [""]'),
  model('repo: org/m\nrepo_type: models'),
  // repo ids
  model('repo: org/sub/m'),
  model('repo: org--x/m'),
  model('repo: org/m..x'),
  model('repo: org/m.git'),
  model('repo: -org/m'),
  model('repo: ""'),
  // revisions
  model('repo: org/m\nrevision: "a..b"'),
  model('repo: org/m\nrevision: "a b"'),
  model('repo: org/m\nrevision: /main'),
  model('repo: org/m\nrevision: main.lock'),
  model('repo: org/m\nrevision: refs/.hidden'),
  model('repo: org/m\nrevision: "x@{1}"'),
  // file paths
  model('repo: org/m\nfiles: [../x]'),
  model('repo: org/m\nfiles: [a/../../x]'),
  model('repo: org/m\nfiles: [/etc/passwd]'),
  model('repo: org/m\nfiles: ["a//b"]'),
  model('repo: org/m\nfiles: ["a/"]'),
  model('repo: org/m\nfiles: ["./a"]'),
  model('repo: org/m\nfiles: ["C:x"]'),
  model('repo: org/m\nfiles: ["a\\\\b"]'),
  model('repo: org/m\nfiles: [a, a]'),
  // links
  model('repo: org/m\nlink: ../evil'),
  model('repo: org/m\nlink: a/b'),
  model('repo: org/m\nlink: ..'),
  model('repo: org/m\nlink: .hidden'),
  model('repo: org/m\nlink: { env: MODEL_PATH }'),
  model('repo: org/m\nlink: { name: x, env: model_path }'),
  model('repo: org/m\nlink: { name: x, env: 1ABC }'),
  model('repo: org/m\nlink: { name: x, path: ../y }'),
  model('repo: org/m\nlink: { name: x, nme: y }'),
  model('repo: org/m\nlink: a\nlinks: [b]'),
  // combinations
  model('repo: org/m\nfiles: [a]\ninclude: ["*"]'),
  model('repo: org/m\nfiles: [a]\nexclude: ["*"]'),
];

/** Rules JSON Schema cannot express; only hubcache enforces them (the schema says so in its description). */
const VALIDATOR_ONLY = [
  'services:\n  a:\n    models:\n      - repo: org/a\n        link: { name: x, env: MODEL_PATH }\n      - repo: org/b\n        link: { name: y, env: MODEL_PATH }',
  'services:\n  a:\n    models:\n      - repo: org/a\n        link: same\n      - repo: org/b\n        link: same',
  model('repo: org/m\nfiles: [a.gguf]\nlink: { name: x, path: b.gguf }'),
];

describe('schema/hubcache.schema.json', () => {
  it('is a valid draft 2020-12 schema', () => {
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(ajv.validateSchema(schema)).toBe(true);
  });

  it.each(VALID)('accepts, as hubcache does: %s', (text) => {
    expect(validatorAccepts(text)).toBe(true);
    expect(validate(parse(text)), JSON.stringify(validate.errors)).toBe(true);
  });

  it.each(INVALID)('rejects, as hubcache does: %s', (text) => {
    expect(validatorAccepts(text)).toBe(false);
    expect(validate(parse(text))).toBe(false);
  });

  it.each(VALIDATOR_ONLY)('leaves cross-field rules to hubcache: %s', (text) => {
    expect(validatorAccepts(text)).toBe(false);
    expect(validate(parse(text))).toBe(true);
  });

  it('describes the shipped example manifest', async () => {
    const text = await readFile(new URL('../../docker/hubcache.yaml', import.meta.url), 'utf8');
    expect(validatorAccepts(text)).toBe(true);
    expect(validate(parse(text)), JSON.stringify(validate.errors)).toBe(true);
  });
});
