import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { downloadFileToCacheDir, fileDownloadInfo, listFiles, pathsInfo, snapshotDownload } from '@huggingface/hub';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createOrigin, type Origin } from '../helpers/origin/createOrigin.js';
import { fakeCommit, linearRepo, type Fixture } from '../helpers/origin/fixture.js';
import { demoFixture } from '../helpers/origin/demoFixture.js';
import { generatedFile } from '../helpers/origin/generatedFile.js';
import { lfsPointer, prepareFixture } from '../helpers/origin/prepareFixture.js';

const TOKEN = 'hf_origin_test_token';
const MiB = 1024 * 1024;

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

function gitSha1(data: Uint8Array): string {
  return createHash('sha1').update(`blob ${data.byteLength}\0`).update(data).digest('hex');
}

function fixture(): Fixture {
  return {
    repos: [
      linearRepo({
        repoId: 'org/model',
        commits: [
          {
            files: [
              { path: 'config.json', source: '{"v": 1}\n' },
              { path: 'model.safetensors', source: { size: 3 * MiB + 17, seed: 'origin-test-weights' } },
            ],
            refs: ['v1.0'],
          },
          {
            files: [
              { path: 'README.md', source: '# model\n' },
              { path: 'onnx/model.onnx', source: { size: 70_000, seed: 'origin-test-onnx' } },
              { path: 'onnx/extra/notes.txt', source: 'nested twice\n' },
              { path: 'big.txt', source: 'x'.repeat(2 * MiB), lfs: false },
              { path: 'small.bin', source: 'tiny but LFS by extension' },
            ],
            refs: ['main'],
          },
          { files: [{ path: 'config.json', source: '{"v": 2}\n' }], refs: ['refs/pr/1'] },
        ],
      }),
      linearRepo({
        repoId: 'org/data',
        repoType: 'dataset',
        commits: [{ files: [{ path: 'data/train.csv', source: 'a,b\n1,2\n' }] }],
      }),
      linearRepo({ repoId: 'org/space', repoType: 'space', commits: [{ files: [{ path: 'app.py', source: 'print(1)\n' }] }] }),
      linearRepo({ repoId: 'gpt2', commits: [{ files: [{ path: 'config.json', source: '{"legacy": true}\n' }] }] }),
      linearRepo({ repoId: 'org/private', private: true, commits: [{ files: [{ path: 'model.bin', source: 'secret weights' }] }] }),
      linearRepo({ repoId: 'org/gated', gated: true, commits: [{ files: [{ path: 'config.json', source: '{}' }] }] }),
      linearRepo({ repoId: 'org/denied', gated: 'denied', commits: [{ files: [{ path: 'config.json', source: '{}' }] }] }),
    ],
  };
}

describe.each(['separate', 'same-server'] as const)('with @huggingface/hub (cdn: %s)', (cdn) => {
  let origin: Origin;
  let cacheDir: string;

  beforeAll(async () => {
    // downloadFileToCacheDir logs every download with console.debug.
    vi.spyOn(console, 'debug').mockImplementation(() => undefined);
    origin = await createOrigin({ fixture: fixture(), token: TOKEN, cdn, treePageSize: 3 });
    cacheDir = await mkdtemp(join(tmpdir(), 'origin-test-cache-'));
  });
  afterAll(async () => {
    vi.restoreAllMocks();
    await origin.close();
    await rm(cacheDir, { recursive: true, force: true });
  });

  it('downloadFileToCacheDir lands regular, LFS and nested files with the right bytes and blob names', async () => {
    for (const path of ['config.json', 'model.safetensors', 'onnx/model.onnx', 'big.txt']) {
      const expected = origin.file({ repoId: 'org/model', path });
      const local = await downloadFileToCacheDir({ repo: 'org/model', path, hubUrl: origin.url, cacheDir });
      const data = await readFile(local);
      expect(data.byteLength).toBe(expected.blob.size);
      expect(sha256(data)).toBe(expected.blob.sha256);
      expect(await readlink(local)).toMatch(new RegExp(`blobs/${expected.etag}$`));
    }
    expect(origin.file({ repoId: 'org/model', path: 'model.safetensors' }).etag).toMatch(/^[0-9a-f]{64}$/);
    expect(origin.file({ repoId: 'org/model', path: 'big.txt' }).etag).toMatch(/^[0-9a-f]{40}$/);
  });

  it('snapshotDownload fetches every file across tree pages, with the commit from repo info', async () => {
    origin.stats.reset();
    const folder = await snapshotDownload({ repo: 'org/model', hubUrl: origin.url, cacheDir });
    const main = fakeCommit({ seed: 'model/org/model#1' });
    expect(folder.endsWith(join('snapshots', main))).toBe(true);
    for (const path of ['README.md', 'config.json', 'model.safetensors', 'onnx/model.onnx', 'onnx/extra/notes.txt', 'small.bin']) {
      expect(sha256(await readFile(join(folder, path)))).toBe(origin.file({ repoId: 'org/model', path }).blob.sha256);
    }
    // 7 files + 2 directories at 3 per page: the client had to follow Link headers.
    const treeCalls = origin.stats.log.filter((e) => e.url.includes('/tree/'));
    expect(treeCalls.length).toBe(3);
    expect(await readFile(join(cacheDir, 'models--org--model', 'refs', 'main'), 'utf8')).toBe(main);
  });

  it('snapshotDownload of a dataset and a space', async () => {
    const data = await snapshotDownload({ repo: { type: 'dataset', name: 'org/data' }, hubUrl: origin.url, cacheDir });
    expect(await readFile(join(data, 'data/train.csv'), 'utf8')).toBe('a,b\n1,2\n');
    const space = await snapshotDownload({ repo: { type: 'space', name: 'org/space' }, hubUrl: origin.url, cacheDir });
    expect(await readFile(join(space, 'app.py'), 'utf8')).toBe('print(1)\n');
  });

  it('listFiles pages through the tree, with raw refs/pr/N revisions too', async () => {
    const all = [];
    for await (const entry of listFiles({ repo: 'org/model', recursive: true, hubUrl: origin.url })) all.push(entry);
    expect(all.map((e) => `${e.type}:${e.path}`).sort()).toEqual(
      [
        'directory:onnx',
        'directory:onnx/extra',
        'file:README.md',
        'file:big.txt',
        'file:config.json',
        'file:model.safetensors',
        'file:onnx/extra/notes.txt',
        'file:onnx/model.onnx',
        'file:small.bin',
      ].sort(),
    );
    const weights = all.find((e) => e.path === 'model.safetensors');
    expect(weights?.lfs).toEqual({ oid: origin.file({ repoId: 'org/model', path: 'model.safetensors' }).blob.sha256, size: 3 * MiB + 17, pointerSize: lfsPointer(origin.file({ repoId: 'org/model', path: 'model.safetensors' }).blob).byteLength });

    const top = [];
    for await (const entry of listFiles({ repo: 'org/model', revision: 'refs/pr/1', hubUrl: origin.url })) top.push(entry.path);
    expect(top).not.toContain('onnx/model.onnx');
    expect(top).toContain('onnx');
  });

  it('fileDownloadInfo gives size and etag, and null for a missing file', async () => {
    const weights = origin.file({ repoId: 'org/model', path: 'model.safetensors' });
    const info = await fileDownloadInfo({ repo: 'org/model', path: 'model.safetensors', hubUrl: origin.url });
    expect(info?.size).toBe(weights.blob.size);
    expect(info?.etag).toBe(`"${weights.blob.sha256}"`);
    const config = await fileDownloadInfo({ repo: 'org/model', path: 'config.json', hubUrl: origin.url });
    expect(config?.etag).toBe(`"${origin.file({ repoId: 'org/model', path: 'config.json' }).blob.gitSha1}"`);
    expect(await fileDownloadInfo({ repo: 'org/model', path: 'nope.txt', hubUrl: origin.url })).toBeNull();
  });

  it('pathsInfo with expand reports lastCommit', async () => {
    const [info] = await pathsInfo({ repo: 'org/model', paths: ['config.json'], expand: true, revision: 'refs/pr/1', hubUrl: origin.url });
    expect(info?.lastCommit?.id).toBe(fakeCommit({ seed: 'model/org/model#2' }));
    const [weights] = await pathsInfo({ repo: 'org/model', paths: ['model.safetensors'], expand: true, hubUrl: origin.url });
    // Unchanged since the first commit, so that is its last commit, not main.
    expect(weights?.lastCommit?.id).toBe(fakeCommit({ seed: 'model/org/model#0' }));
  });

  it('private repos need the token, and the token never reaches the separate CDN', async () => {
    await expect(downloadFileToCacheDir({ repo: 'org/private', path: 'model.bin', hubUrl: origin.url, cacheDir })).rejects.toThrow();
    origin.stats.reset();
    const local = await downloadFileToCacheDir({ repo: 'org/private', path: 'model.bin', hubUrl: origin.url, cacheDir, accessToken: TOKEN });
    expect(await readFile(local, 'utf8')).toBe('secret weights');
    const cdnCalls = origin.stats.log.filter((e) => e.route === 'cdn');
    expect(cdnCalls.length).toBeGreaterThan(0);
    for (const call of cdnCalls) expect(call.authorization).toBe(cdn === 'same-server');
  });
});

describe('protocol details (raw fetch)', () => {
  let origin: Origin;
  const weightsPath = 'model.safetensors';

  beforeAll(async () => {
    origin = await createOrigin({ fixture: fixture(), token: TOKEN, treePageSize: 4 });
  });
  afterAll(async () => {
    await origin.close();
  });

  const resolveUrl = (path: string, revision = 'main', repo = 'org/model') => `${origin.url}/${repo}/resolve/${revision}/${path}`;
  const auth = { Authorization: `Bearer ${TOKEN}` };

  it('HEAD of a regular file: 200 with git-sha1 ETag, size, commit', async () => {
    const res = await fetch(resolveUrl('config.json'), { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers.get('etag')).toBe(`"${gitSha1(Buffer.from('{"v": 1}\n'))}"`);
    expect(res.headers.get('content-length')).toBe('9');
    expect(res.headers.get('accept-ranges')).toBe('bytes');
    expect(res.headers.get('x-repo-commit')).toBe(fakeCommit({ seed: 'model/org/model#1' }));
    expect(res.headers.get('x-linked-etag')).toBeNull();
  });

  it('HEAD of an LFS file: 302 to an absolute CDN URL with X-Linked-Etag/Size', async () => {
    const file = origin.file({ repoId: 'org/model', path: weightsPath });
    const res = await fetch(resolveUrl(weightsPath), { method: 'HEAD', redirect: 'manual' });
    expect(res.status).toBe(302);
    expect(res.headers.get('x-linked-etag')).toBe(`"${file.blob.sha256}"`);
    expect(res.headers.get('x-linked-size')).toBe(String(file.blob.size));
    expect(res.headers.get('etag')).toBe(`"${file.blob.sha256}"`);
    const location = new URL(res.headers.get('location')!);
    expect(location.origin).toBe(origin.cdnUrl);
    expect(location.origin).not.toBe(origin.url);
    expect(location.pathname).toBe(`/cdn/lfs/${file.blob.sha256}`);
  });

  it('GET follows to the CDN; Range gives 206 + Content-Range; bad ranges 416', async () => {
    const file = origin.file({ repoId: 'org/model', path: weightsPath });
    const whole = await readFile((file.blob.body as { path: string }).path);
    const size = file.blob.size;

    const full = await fetch(resolveUrl(weightsPath));
    expect(full.status).toBe(200);
    expect(sha256(new Uint8Array(await full.arrayBuffer()))).toBe(file.blob.sha256);

    const part = await fetch(resolveUrl(weightsPath), { headers: { Range: 'bytes=100-199' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 100-199/${size}`);
    expect(Buffer.from(await part.arrayBuffer())).toEqual(whole.subarray(100, 200));

    const open = await fetch(resolveUrl(weightsPath), { headers: { Range: `bytes=${size - 10}-` } });
    expect(open.status).toBe(206);
    expect(Buffer.from(await open.arrayBuffer())).toEqual(whole.subarray(size - 10));

    const suffix = await fetch(resolveUrl(weightsPath), { headers: { Range: 'bytes=-5' } });
    expect(suffix.headers.get('content-range')).toBe(`bytes ${size - 5}-${size - 1}/${size}`);

    const past = await fetch(resolveUrl(weightsPath), { headers: { Range: `bytes=${size}-` } });
    expect(past.status).toBe(416);
    expect(past.headers.get('content-range')).toBe(`bytes */${size}`);

    // Regular files take ranges on the resolve URL itself.
    const small = await fetch(resolveUrl('config.json'), { headers: { Range: 'bytes=1-3' } });
    expect(small.status).toBe(206);
    expect(await small.text()).toBe('"v"');
  });

  it('If-Range: a matching validator keeps the range, a stale one gets the whole body', async () => {
    const file = origin.file({ repoId: 'org/model', path: weightsPath });
    const fresh = await fetch(resolveUrl(weightsPath), { headers: { Range: 'bytes=0-9', 'If-Range': `"${file.blob.sha256}"` } });
    expect(fresh.status).toBe(206);
    await fresh.arrayBuffer();
    const stale = await fetch(resolveUrl(weightsPath), { headers: { Range: 'bytes=0-9', 'If-Range': '"something-else"' } });
    expect(stale.status).toBe(200);
    expect((await stale.arrayBuffer()).byteLength).toBe(file.blob.size);
    const byDate = await fetch(resolveUrl('config.json'), { headers: { Range: 'bytes=0-0', 'If-Range': 'Mon, 01 Jan 2024 00:00:00 GMT' } });
    expect(byDate.status).toBe(206);
  });

  it('revisions: tag, encoded and raw refs/pr/N, full commit id', async () => {
    const commit = (res: Response) => res.headers.get('x-repo-commit');
    expect(commit(await fetch(resolveUrl('config.json', 'v1.0'), { method: 'HEAD' }))).toBe(fakeCommit({ seed: 'model/org/model#0' }));
    const pr = await fetch(resolveUrl('config.json', 'refs%2Fpr%2F1'));
    expect(commit(pr)).toBe(fakeCommit({ seed: 'model/org/model#2' }));
    expect(await pr.text()).toBe('{"v": 2}\n');
    expect(commit(await fetch(resolveUrl('config.json', 'refs/pr/1'), { method: 'HEAD' }))).toBe(fakeCommit({ seed: 'model/org/model#2' }));
    const id = fakeCommit({ seed: 'model/org/model#0' });
    expect(commit(await fetch(resolveUrl('config.json', id), { method: 'HEAD' }))).toBe(id);
  });

  it('/raw/ serves the LFS pointer instead of redirecting', async () => {
    const file = origin.file({ repoId: 'org/model', path: weightsPath });
    const res = await fetch(`${origin.url}/org/model/raw/main/${weightsPath}`, { redirect: 'manual' });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(lfsPointer(file.blob).toString());
  });

  it('datasets, spaces and legacy single-segment repo ids', async () => {
    expect(await (await fetch(`${origin.url}/datasets/org/data/resolve/main/data/train.csv`)).text()).toBe('a,b\n1,2\n');
    expect(await (await fetch(`${origin.url}/spaces/org/space/resolve/main/app.py`)).text()).toBe('print(1)\n');
    expect(await (await fetch(`${origin.url}/gpt2/resolve/main/config.json`)).text()).toBe('{"legacy": true}\n');
    const info = (await (await fetch(`${origin.url}/api/models/gpt2/revision/main`)).json()) as { id: string };
    expect(info.id).toBe('gpt2');
    // A dataset is not a model.
    const wrongType = await fetch(`${origin.url}/org/data/resolve/main/data/train.csv`, { headers: auth });
    expect(wrongType.headers.get('x-error-code')).toBe('RepoNotFound');
  });

  it('errors carry X-Error-Code, X-Error-Message and a JSON body, with the Hub statuses', async () => {
    const check = async (url: string, init: RequestInit, status: number, code: string | null) => {
      const res = await fetch(url, init);
      expect([url, res.status, res.headers.get('x-error-code')]).toEqual([url, status, code]);
      if (init.method !== 'HEAD' && status >= 400) {
        const body = (await res.json()) as { error: string };
        expect(body.error).toBe(res.headers.get('x-error-message'));
      }
      return res;
    };
    await check(resolveUrl('config.json', 'main', 'org/missing'), {}, 401, 'RepoNotFound');
    await check(resolveUrl('config.json', 'main', 'org/missing'), { headers: auth }, 404, 'RepoNotFound');
    await check(resolveUrl('model.bin', 'main', 'org/private'), {}, 401, 'RepoNotFound');
    await check(resolveUrl('model.bin', 'main', 'org/private'), { headers: auth }, 200, null);
    const invalid = await check(resolveUrl('config.json'), { headers: { Authorization: 'Bearer hf_wrong' } }, 401, null);
    expect(invalid.headers.get('x-error-message')).toBe('Invalid credentials in Authorization header');
    await check(resolveUrl('config.json', 'main', 'org/gated'), {}, 401, 'GatedRepo');
    await check(resolveUrl('config.json', 'main', 'org/gated'), { headers: auth }, 200, null);
    await check(resolveUrl('config.json', 'main', 'org/denied'), { headers: auth }, 403, 'GatedRepo');
    await check(`${origin.url}/api/models/org/gated`, {}, 200, null);
    await check(resolveUrl('config.json', 'nope'), {}, 404, 'RevisionNotFound');
    await check(resolveUrl('config.json', 'nope'), { method: 'HEAD' }, 404, 'RevisionNotFound');
    const missing = await check(resolveUrl('missing.txt'), { method: 'HEAD' }, 404, 'EntryNotFound');
    // huggingface_hub writes .no_exist/<commit>/<path> from this header.
    expect(missing.headers.get('x-repo-commit')).toBe(fakeCommit({ seed: 'model/org/model#1' }));
    await check(`${origin.url}/api/models/org/model/revision/nope`, {}, 404, 'RevisionNotFound');
    await check(`${origin.url}/api/models/org/private/tree/main`, {}, 401, 'RepoNotFound');
  });

  it('repo info: sha and siblings, blobs=true details, expand narrowing', async () => {
    type Info = { id: string; sha?: string; siblings?: Array<{ rfilename: string; size?: number; blobId?: string; lfs?: unknown }>; private?: boolean };
    const plain = (await (await fetch(`${origin.url}/api/models/org/model`)).json()) as Info;
    expect(plain.sha).toBe(fakeCommit({ seed: 'model/org/model#1' }));
    expect(plain.siblings?.map((s) => s.rfilename)).toContain('onnx/extra/notes.txt');
    expect(plain.siblings?.[0]?.size).toBeUndefined();

    const detailed = (await (await fetch(`${origin.url}/api/models/org/model/revision/v1.0?blobs=true`)).json()) as Info;
    const weights = origin.file({ repoId: 'org/model', revision: 'v1.0', path: weightsPath });
    expect(detailed.sha).toBe(fakeCommit({ seed: 'model/org/model#0' }));
    expect(detailed.siblings?.find((s) => s.rfilename === weightsPath)).toEqual({
      rfilename: weightsPath,
      size: weights.blob.size,
      blobId: weights.oid,
      lfs: { sha256: weights.blob.sha256, size: weights.blob.size, pointerSize: lfsPointer(weights.blob).byteLength },
    });

    const narrowed = (await (await fetch(`${origin.url}/api/models/org/model/revision/main?expand=sha&expand[]=private`)).json()) as Info;
    expect(Object.keys(narrowed).sort()).toEqual(['_id', 'id', 'private', 'sha']);

    const pr = (await (await fetch(`${origin.url}/api/datasets/org/data/revision/main`)).json()) as Info;
    expect(pr.id).toBe('org/data');
  });

  it('tree: non-recursive listing, sub-folder, absolute Link pagination', async () => {
    type Entry = { type: string; path: string; size: number; oid: string };
    const first = await fetch(`${origin.url}/api/models/org/model/tree/main?recursive=false`);
    const page1 = (await first.json()) as Entry[];
    const link = first.headers.get('link');
    expect(link).toMatch(/^<http:\/\/127\.0\.0\.1:\d+\/api\/models\/org\/model\/tree\/main\?recursive=false&cursor=[\w-]+>; rel="next"$/);
    const second = await fetch(/<([^>]+)>/.exec(link!)![1]!);
    expect(second.headers.get('link')).toBeNull();
    const page2 = (await second.json()) as Entry[];
    expect([...page1, ...page2].map((e) => e.path)).toEqual(['README.md', 'big.txt', 'config.json', 'model.safetensors', 'onnx', 'small.bin']);
    expect(page1.find((e) => e.path === 'big.txt')).toEqual({ type: 'file', oid: gitSha1(Buffer.from('x'.repeat(2 * MiB))), size: 2 * MiB, path: 'big.txt' });

    const sub = (await (await fetch(`${origin.url}/api/models/org/model/tree/main/onnx`)).json()) as Entry[];
    expect(sub.map((e) => `${e.type}:${e.path}`)).toEqual(['directory:onnx/extra', 'file:onnx/model.onnx']);
    const encoded = (await (await fetch(`${origin.url}/api/models/org/model/tree/main/onnx%2Fextra`)).json()) as Entry[];
    expect(encoded.map((e) => e.path)).toEqual(['onnx/extra/notes.txt']);
    const none = await fetch(`${origin.url}/api/models/org/model/tree/main/nowhere`);
    expect(none.headers.get('x-error-code')).toBe('EntryNotFound');
  });

  it('paths-info takes JSON and form bodies, skips unknown paths', async () => {
    const url = `${origin.url}/api/models/org/model/paths-info/main`;
    const json = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ paths: ['config.json', 'onnx', 'missing'], expand: false }),
    });
    const entries = (await json.json()) as Array<{ type: string; path: string; lastCommit?: unknown }>;
    expect(entries.map((e) => `${e.type}:${e.path}`)).toEqual(['file:config.json', 'directory:onnx']);
    expect(entries[0]?.lastCommit).toBeUndefined();

    const form = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'paths=model.safetensors&paths=README.md&expand=true',
    });
    const formEntries = (await form.json()) as Array<{ path: string; lfs?: { oid: string }; lastCommit?: { id: string } }>;
    expect(formEntries.map((e) => e.path)).toEqual(['model.safetensors', 'README.md']);
    expect(formEntries[0]?.lfs?.oid).toBe(origin.file({ repoId: 'org/model', path: weightsPath }).blob.sha256);
    expect(formEntries[1]?.lastCommit?.id).toBe(fakeCommit({ seed: 'model/org/model#1' }));
  });

  it('whoami-v2 answers for the token only', async () => {
    expect((await fetch(`${origin.url}/api/whoami-v2`, { headers: auth })).status).toBe(200);
    expect((await fetch(`${origin.url}/api/whoami-v2`)).status).toBe(401);
  });

  it('setFixture swaps what is served (main moved)', async () => {
    const other = await createOrigin({ fixture: { repos: [linearRepo({ repoId: 'a/b', commits: [{ files: [{ path: 'f', source: '1' }] }] })] } });
    try {
      const before = (await fetch(`${other.url}/a/b/resolve/main/f`, { method: 'HEAD' })).headers.get('x-repo-commit');
      await other.setFixture({ repos: [linearRepo({ repoId: 'a/b', commits: [{ files: [{ path: 'f', source: '1' }] }, { files: [{ path: 'f', source: '2' }] }] })] });
      const after = await fetch(`${other.url}/a/b/resolve/main/f`);
      expect(after.headers.get('x-repo-commit')).not.toBe(before);
      expect(await after.text()).toBe('2');
    } finally {
      await other.close();
    }
  });

  it('serves { file } sources from disk', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'origin-file-source-'));
    try {
      const path = join(dir, 'weights.gguf');
      const data = Buffer.alloc(5 * MiB + 3, 7);
      await writeFile(path, data);
      const other = await createOrigin({
        fixture: { repos: [linearRepo({ repoId: 'a/gguf', commits: [{ files: [{ path: 'w.gguf', source: { file: path } }] }] })] },
      });
      try {
        const res = await fetch(`${other.url}/a/gguf/resolve/main/w.gguf`);
        expect(sha256(new Uint8Array(await res.arrayBuffer()))).toBe(sha256(data));
        expect(other.file({ repoId: 'a/gguf', path: 'w.gguf' }).lfs).toBe(true);
      } finally {
        await other.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('fixtures', () => {
  it('generated bytes are deterministic, and a shorter file is a prefix of a longer one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'origin-generated-'));
    try {
      const a = await generatedFile({ size: 100_000, seed: 's', dir });
      const again = await generatedFile({ size: 100_000, seed: 's', dir });
      const longer = await generatedFile({ size: 300_000, seed: 's', dir });
      const other = await generatedFile({ size: 100_000, seed: 't', dir });
      expect(again).toEqual(a);
      expect(other.sha256).not.toBe(a.sha256);
      const short = await readFile(a.path);
      expect(sha256(short)).toBe(a.sha256);
      expect(gitSha1(short)).toBe(a.gitSha1);
      expect((await readFile(longer.path)).subarray(0, 100_000).equals(short)).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('rejects inconsistent fixtures with a message naming the problem', async () => {
    const commit = fakeCommit({ seed: 'x' });
    const bad = async (repo: Fixture['repos'][number]) => prepareFixture({ fixture: { repos: [repo] } });
    await expect(bad({ repoId: 'a/b', refs: { dev: commit }, commits: { [commit]: { files: [] } } })).rejects.toThrow(/no "main" ref/);
    await expect(bad({ repoId: 'a/b', refs: { main: fakeCommit({ seed: 'y' }) }, commits: { [commit]: { files: [] } } })).rejects.toThrow(/unknown commit/);
    await expect(bad({ repoId: 'a/b', refs: { main: commit }, commits: { [commit]: { files: [{ path: '../x', source: '' }] } } })).rejects.toThrow(/invalid path/);
    await expect(
      bad({ repoId: 'a/b', refs: { main: commit }, commits: { [commit]: { files: [{ path: 'd', source: '' }, { path: 'd/e', source: '' }] } } }),
    ).rejects.toThrow(/both a file and a folder/);
  });

  it('the demo fixture serves (what `npm run origin` runs)', async () => {
    const origin = await createOrigin({ fixture: demoFixture({ modelSize: 1024 }) });
    try {
      const head = await fetch(`${origin.url}/demo/tiny-model/resolve/main/model.safetensors`, { method: 'HEAD', redirect: 'manual' });
      expect(head.status).toBe(302);
      const pr = await fetch(`${origin.url}/demo/tiny-model/resolve/refs%2Fpr%2F1/config.json`);
      expect(await pr.text()).toContain('"hidden_size": 128');
      const data = await fetch(`${origin.url}/datasets/demo/tiny-dataset/resolve/main/data/train.csv`);
      expect(data.status).toBe(200);
    } finally {
      await origin.close();
    }
  });
});
