import { describe, expect, it } from 'vitest';
import { parseRoute } from '../../src/server/parseRoute.js';

const C = 'a'.repeat(40);

describe('parseRoute: raw-path routing as Hub clients send it', () => {
  it('resolve URLs of models, datasets and spaces, one- or two-segment ids, quoted paths', () => {
    expect(parseRoute({ rawPath: '/org/name/resolve/main/config.json' })).toEqual({
      kind: 'resolve',
      repo: { repoType: 'model', repoId: 'org/name' },
      revision: 'main',
      path: 'config.json',
    });
    expect(parseRoute({ rawPath: '/gpt2/resolve/main/onnx/model.onnx' })).toMatchObject({ repo: { repoId: 'gpt2' }, path: 'onnx/model.onnx' });
    expect(parseRoute({ rawPath: '/datasets/org/data/resolve/v1.0/a%20b.txt' })).toMatchObject({
      repo: { repoType: 'dataset', repoId: 'org/data' },
      revision: 'v1.0',
      path: 'a b.txt',
    });
    expect(parseRoute({ rawPath: `/spaces/org/app/resolve/${C}/app.py` })).toMatchObject({ repo: { repoType: 'space' }, revision: C });
  });

  it('keeps an encoded revision in one piece (refs%2Fpr%2F1) and recognises it unencoded', () => {
    expect(parseRoute({ rawPath: '/org/name/resolve/refs%2Fpr%2F1/model.gguf' })).toMatchObject({ revision: 'refs/pr/1', path: 'model.gguf' });
    expect(parseRoute({ rawPath: '/org/name/resolve/refs/pr/1/model.gguf' })).toMatchObject({ revision: 'refs/pr/1', path: 'model.gguf' });
    expect(parseRoute({ rawPath: '/api/models/org/name/revision/refs%2Fpr%2F2' })).toMatchObject({ kind: 'info', revision: 'refs/pr/2' });
  });

  it('API routes: info, revision, tree with a path, paths-info, refs; the llama.cpp manifest', () => {
    expect(parseRoute({ rawPath: '/api/models/org/name' })).toMatchObject({ kind: 'info', revision: undefined });
    expect(parseRoute({ rawPath: '/api/models/gpt2/revision/main' })).toMatchObject({ kind: 'info', repo: { repoId: 'gpt2' }, revision: 'main' });
    expect(parseRoute({ rawPath: `/api/datasets/org/data/tree/${C}/sub/dir` })).toMatchObject({ kind: 'tree', revision: C, path: 'sub/dir' });
    expect(parseRoute({ rawPath: '/api/models/org/name/tree/main' })).toMatchObject({ kind: 'tree', path: '' });
    expect(parseRoute({ rawPath: '/api/models/org/name/paths-info/main' })).toMatchObject({ kind: 'paths-info', revision: 'main' });
    expect(parseRoute({ rawPath: '/api/models/org/name/refs' })).toMatchObject({ kind: 'refs' });
    expect(parseRoute({ rawPath: '/v2/org/name/manifests/Q4_K_M' })).toEqual({ kind: 'manifest', repoId: 'org/name', tag: 'Q4_K_M' });
    expect(parseRoute({ rawPath: '/healthz' })).toEqual({ kind: 'healthz' });
    expect(parseRoute({ rawPath: '/metrics' })).toEqual({ kind: 'metrics' });
  });

  it('refuses traversal, backslashes, NUL, bad encodings, bad ids and revisions with a reason', () => {
    for (const rawPath of [
      '/org/name/resolve/main/../../etc/passwd',
      '/org/name/resolve/main/%2e%2e/x',
      '/org/name/resolve/main/a%2F..%2Fb',
      '/org/name/resolve/main/a%5Cb',
      '/org/name/resolve/main/a%00b',
      '/org/name/resolve/main/%E0%A4%A',
      '/org/name/resolve/main/',
      '/org/na--me/resolve/main/x',
      '/org/name/resolve/ma~in/x',
      '/api/models/org/name/tree/main/../x',
      `/org/name/resolve/main/${'a'.repeat(9000)}`,
    ]) {
      const route = parseRoute({ rawPath });
      expect(route.kind, rawPath).toBe('bad-request');
    }
    expect(parseRoute({ rawPath: '/nothing/here' }).kind).toBe('not-found');
    expect(parseRoute({ rawPath: '/api/widgets/org/name' }).kind).toBe('not-found');
  });
});
