import { describe, expect, it } from 'vitest';
import { parseRepoFolderName, parseRepoSpec, repoFolderName, validateRepoId } from '../../src/cache/repoId.js';
import { validateRepoFilePath } from '../../src/cache/repoFilePath.js';
import { validateRevision, isCommitHash } from '../../src/cache/revision.js';
import { repoPaths } from '../../src/cache/repoPaths.js';
import { normalizeEtag, hashAlgorithmForBlobName } from '../../src/cache/etag.js';
import { isHubcacheError } from '../../src/errors.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    return isHubcacheError(err) ? err.code : 'not-a-hubcache-error';
  }
}

describe('repo ids', () => {
  it('accepts what the Hub accepts', () => {
    for (const id of ['gpt2', 'Qwen/Qwen3-VL-30B-A3B-Instruct-GGUF', 'openai/whisper-large-v3', 'a_b/c.d', 'x/y-1.5']) {
      expect(codeOf(() => validateRepoId({ repoId: id })), id).toBeUndefined();
    }
  });
  it('rejects traversal, separators and other bad ids with E_INVALID_REPO_ID', () => {
    for (const id of ['', '../etc', 'a/../b', 'a--b/c', 'a/b/c', '/abs', 'a/', '-a/b', 'a/b.git', 'a b/c', 'a/b\\c', 'x'.repeat(97), 'a/.hidden']) {
      expect(codeOf(() => validateRepoId({ repoId: id })), JSON.stringify(id)).toBe('E_INVALID_REPO_ID');
    }
  });
  it('maps ids to cache folder names and back', () => {
    expect(repoFolderName({ repoType: 'model', repoId: 'org/name' })).toBe('models--org--name');
    expect(repoFolderName({ repoType: 'dataset', repoId: 'org/name' })).toBe('datasets--org--name');
    expect(repoFolderName({ repoType: 'space', repoId: 'gpt2' })).toBe('spaces--gpt2');
    expect(parseRepoFolderName({ name: 'models--org--name' })).toEqual({ repoType: 'model', repoId: 'org/name' });
    expect(parseRepoFolderName({ name: 'datasets--gpt2' })).toEqual({ repoType: 'dataset', repoId: 'gpt2' });
    expect(parseRepoFolderName({ name: '.locks' })).toBeUndefined();
    expect(parseRepoFolderName({ name: 'models--a--b--c' })).toBeUndefined();
    expect(parseRepoFolderName({ name: 'widgets--a--b' })).toBeUndefined();
  });
  it('parses the ways users name repos', () => {
    expect(parseRepoSpec({ spec: 'org/name' })).toEqual({ repoType: 'model', repoId: 'org/name' });
    expect(parseRepoSpec({ spec: 'dataset/org/name' })).toEqual({ repoType: 'dataset', repoId: 'org/name' });
    expect(parseRepoSpec({ spec: 'datasets/org/name' })).toEqual({ repoType: 'dataset', repoId: 'org/name' });
    expect(parseRepoSpec({ spec: 'models--org--name' })).toEqual({ repoType: 'model', repoId: 'org/name' });
    expect(parseRepoSpec({ spec: 'org/name', defaultType: 'space' })).toEqual({ repoType: 'space', repoId: 'org/name' });
  });
});

describe('file paths and revisions', () => {
  it('accepts plain relative paths', () => {
    for (const p of ['config.json', 'onnx/model.onnx', 'a/b/c/d.bin', '.gitattributes', 'dir/.hidden']) {
      expect(codeOf(() => validateRepoFilePath({ path: p })), p).toBeUndefined();
    }
  });
  it('rejects traversal and absolute paths with E_INVALID_PATH', () => {
    for (const p of ['', '/etc/passwd', '../x', 'a/../../x', 'a/./b', 'a//b', 'a/', 'C:/x', 'a\\b', 'a\0b', '..']) {
      expect(codeOf(() => validateRepoFilePath({ path: p })), JSON.stringify(p)).toBe('E_INVALID_PATH');
    }
  });
  it('validates revisions like git ref names', () => {
    for (const r of ['main', 'v1.0', 'refs/pr/1', 'a'.repeat(40), 'feature/x']) expect(codeOf(() => validateRevision({ revision: r })), r).toBeUndefined();
    for (const r of ['', '../main', 'a/../b', '/main', 'main/', 'a b', 'a:b', 'x.lock', '.hidden', 'a..b']) {
      expect(codeOf(() => validateRevision({ revision: r })), r).toBe('E_INVALID_REVISION');
    }
    expect(isCommitHash('a'.repeat(40))).toBe(true);
    expect(isCommitHash('A'.repeat(40))).toBe(false);
  });
});

describe('paths in the layout', () => {
  const paths = repoPaths({ cacheDir: '/c', repoType: 'model', repoId: 'org/m' });
  const commit = '1'.repeat(40);
  const etag = 'a'.repeat(64);
  it('builds the hub layout', () => {
    expect(paths.blob(etag)).toBe(`/c/models--org--m/blobs/${etag}`);
    expect(paths.ref('refs/pr/1')).toBe('/c/models--org--m/refs/refs/pr/1');
    expect(paths.snapshotFile(commit, 'onnx/model.onnx')).toBe(`/c/models--org--m/snapshots/${commit}/onnx/model.onnx`);
    expect(paths.lock(etag)).toBe(`/c/.locks/models--org--m/${etag}.lock`);
    expect(paths.noExistFile(commit, 'x.json')).toBe(`/c/models--org--m/.no_exist/${commit}/x.json`);
  });
  it('makes relative links with one more ../ per nesting level, as Python does', () => {
    expect(paths.blobLinkTarget(commit, 'model.gguf', etag)).toBe(`../../blobs/${etag}`);
    expect(paths.blobLinkTarget(commit, 'a/b/model.gguf', etag)).toBe(`../../../../blobs/${etag}`);
  });
  it('refuses etags and commits that could name other paths', () => {
    expect(codeOf(() => paths.blob('../../x'))).toBe('E_HTTP');
    expect(codeOf(() => paths.snapshot('main'))).toBe('E_INVALID_REVISION');
  });
  it('normalizes etags and picks the hash by name length', () => {
    expect(normalizeEtag({ etag: 'W/"abc"' })).toBe('abc');
    expect(normalizeEtag({ etag: '"abc"' })).toBe('abc');
    expect(hashAlgorithmForBlobName({ name: etag })).toBe('sha256');
    expect(hashAlgorithmForBlobName({ name: 'b'.repeat(40) })).toBe('git-sha1');
    expect(hashAlgorithmForBlobName({ name: 'xyz' })).toBeUndefined();
  });
});
