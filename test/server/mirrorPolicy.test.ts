/**
 * What the mirror answers besides bytes: the Hub's error codes (and 502/504 when upstream is down,
 * never 404/401), offline answers from the cache, Xet hidden, private and gated repos never served
 * to a client upstream has not allowed, tokens never logged, hostile requests refused, many
 * connections served, metadata routes passed through (trees in one page).
 */
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { readdir } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOrigin, type Origin } from '../helpers/origin/createOrigin.js';
import { linearRepo } from '../helpers/origin/fixture.js';
import { fetchAll, startMirror, type Mirror } from '../helpers/startMirror.js';
import { makeTempDir } from '../helpers/tempDir.js';
import { loadKnownPublic, saveKnownPublic } from '../../src/server/knownPublic.js';
import type { RequestLog } from '../../src/server/createApp.js';

const TOKEN = 'hf_goodtoken123';
let origin: Origin;

function fixtureRepos() {
  const files = [
    { path: 'config.json', source: '{"a":1}' },
    { path: 'model.gguf', source: { size: 2 * 1024 * 1024, seed: 'policy-gguf' } },
    { path: 'sub/deep/file.txt', source: 'deep' },
  ];
  return [
    linearRepo({ repoId: 'acme/public', commits: [{ files }, { files: [{ path: 'config.json', source: '{"a":2}' }], refs: [] }] }),
    linearRepo({ repoId: 'acme/secret', private: true, commits: [{ files }] }),
    linearRepo({ repoId: 'acme/gated', gated: true, commits: [{ files }] }),
    linearRepo({ repoId: 'acme/many', commits: [{ files: Array.from({ length: 30 }, (_, i) => ({ path: `f/${i}.txt`, source: `file ${i}` })) }] }),
  ];
}

beforeAll(async () => {
  origin = await createOrigin({ fixture: { repos: fixtureRepos() }, token: TOKEN, treePageSize: 7, xet: true });
});
afterAll(async () => origin?.close());

const auth = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

describe('errors: the Hub codes pass through; upstream trouble is 502/504', () => {
  it('RepoNotFound, RevisionNotFound and EntryNotFound (with X-Repo-Commit) as the Hub sends them', async () => {
    const mirror = await startMirror({ upstream: origin.url });
    try {
      const missingRepo = await fetchAll(`${mirror.url}/acme/nope/resolve/main/x`, { method: 'HEAD' });
      expect(missingRepo.status).toBe(401);
      expect(missingRepo.headers.get('x-error-code')).toBe('RepoNotFound');
      const missingRev = await fetchAll(`${mirror.url}/acme/public/resolve/nobranch/config.json`);
      expect(missingRev.status).toBe(404);
      expect(missingRev.headers.get('x-error-code')).toBe('RevisionNotFound');
      const missingFile = await fetchAll(`${mirror.url}/acme/public/resolve/main/absent.txt`, { method: 'HEAD' });
      expect(missingFile.status).toBe(404);
      expect(missingFile.headers.get('x-error-code')).toBe('EntryNotFound');
      expect(missingFile.headers.get('x-repo-commit')).toMatch(/^[0-9a-f]{40}$/);
      const json = await fetchAll(`${mirror.url}/api/models/acme/nope`);
      expect(json.status).toBe(401);
      expect(JSON.parse(json.body.toString()).error).toBeTruthy();
    } finally {
      await mirror.close();
    }
  });

  it('upstream refusing connections -> 502, a silent upstream -> 504 (never 404/401); a cached public file is still served', async () => {
    const silent: Server = createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const silentUrl = `http://127.0.0.1:${(silent.address() as { port: number }).port}`;
    const cacheDir = join(await makeTempDir(), 'hub');
    try {
      // Fill the cache through a healthy mirror first.
      const healthy = await startMirror({ upstream: origin.url, cacheDir });
      expect((await fetchAll(`${healthy.url}/acme/public/resolve/main/model.gguf`)).status).toBe(200);
      const publicKeys = healthy.app.context.access.publicKeys();
      await healthy.close();

      const refused = await startMirror({ upstream: 'http://127.0.0.1:9', cacheDir });
      const down = await fetchAll(`${refused.url}/acme/public/resolve/main/never-cached.txt`, { method: 'HEAD' });
      expect(down.status).toBe(502);
      expect(down.headers.get('x-error-code')).toBeNull();
      const downApi = await fetchAll(`${refused.url}/api/models/acme/public/revision/main`);
      expect(downApi.status).toBe(502);
      await refused.close();

      const slow = await startMirror({ upstream: silentUrl, cacheDir, upstreamTimeoutMs: 500, knownPublic: publicKeys });
      const timedOut = await fetchAll(`${slow.url}/acme/public/resolve/main/never-cached.txt`, { method: 'HEAD' });
      expect(timedOut.status).toBe(504);
      // The file it has: the last known mapping of main and the cached blob answer.
      const cached = await fetchAll(`${slow.url}/acme/public/resolve/main/model.gguf`);
      expect(cached.status).toBe(200);
      expect(cached.body.byteLength).toBe(2 * 1024 * 1024);
      await slow.close();
    } finally {
      silent.close();
    }
  });

  it('429 from upstream is passed on with Retry-After', async () => {
    const mirror = await startMirror({ upstream: origin.url });
    try {
      origin.faults.add({ kind: 'status', status: 429, retryAfter: 7, match: { path: 'config.json', route: 'head' } });
      const limited = await fetchAll(`${mirror.url}/acme/public/resolve/main/config.json`, { method: 'HEAD' });
      expect(limited.status).toBe(429);
      expect(limited.headers.get('retry-after')).toBe('7');
    } finally {
      await mirror.close();
    }
  });
});

describe('offline', () => {
  it('serves cached commits and the last known branch mapping; what it lacks is 504; private repos stay closed', async () => {
    const cacheDir = join(await makeTempDir(), 'hub');
    const online = await startMirror({ upstream: origin.url, cacheDir, onPublic: () => undefined });
    const info = JSON.parse((await fetchAll(`${online.url}/api/models/acme/public/revision/main`)).body.toString()) as { sha: string };
    expect((await fetchAll(`${online.url}/acme/public/resolve/main/config.json`)).status).toBe(200);
    expect((await fetchAll(`${online.url}/acme/secret/resolve/main/config.json`, auth(TOKEN))).status).toBe(200);
    await saveKnownPublic({ cacheDir, keys: online.app.context.access.publicKeys() });
    await online.close();

    const offline = await startMirror({ upstream: 'http://127.0.0.1:9', cacheDir, offline: true, knownPublic: await loadKnownPublic({ cacheDir }) });
    try {
      const byBranch = await fetchAll(`${offline.url}/acme/public/resolve/main/config.json`);
      expect(byBranch.status).toBe(200);
      expect(byBranch.body.toString()).toBe('{"a":2}');
      expect(byBranch.headers.get('x-repo-commit')).toBe(info.sha);
      const byCommit = await fetchAll(`${offline.url}/acme/public/resolve/${info.sha}/config.json`, { method: 'HEAD' });
      expect(byCommit.status).toBe(200);
      expect(byCommit.headers.get('etag')).toMatch(/^"[0-9a-f]{40}"$/);
      const apiInfo = await fetchAll(`${offline.url}/api/models/acme/public/revision/main`);
      expect(JSON.parse(apiInfo.body.toString()).sha).toBe(info.sha);
      expect((await fetchAll(`${offline.url}/acme/public/resolve/main/model.gguf`, { method: 'HEAD' })).status).toBe(504);
      // Cached, but private: nobody can be checked offline, so nobody gets it.
      expect((await fetchAll(`${offline.url}/acme/secret/resolve/main/config.json`, auth(TOKEN))).status).toBe(504);
    } finally {
      await offline.close();
    }
  });
});

describe('access: private and gated content is served only to clients upstream allowed', () => {
  it('a private repo filled for an allowed client is refused to anonymous and wrong-token clients', async () => {
    const logs: RequestLog[] = [];
    const mirror = await startMirror({ upstream: origin.url, log: (r) => logs.push(r) });
    try {
      const allowed = await fetchAll(`${mirror.url}/acme/secret/resolve/main/model.gguf`, auth(TOKEN));
      expect(allowed.status).toBe(200);
      expect(allowed.body.byteLength).toBe(2 * 1024 * 1024);
      const blobs = await readdir(join(mirror.cacheDir, 'models--acme--secret', 'blobs'));
      expect(blobs.length).toBeGreaterThan(0);
      for (const path of ['model.gguf', 'config.json']) {
        const anonymous = await fetchAll(`${mirror.url}/acme/secret/resolve/main/${path}`);
        expect(anonymous.status).toBe(401);
        expect(anonymous.body.byteLength).toBeLessThan(1000);
        const wrong = await fetchAll(`${mirror.url}/acme/secret/resolve/main/${path}`, auth('hf_wrong'));
        expect(wrong.status).toBe(401);
      }
      expect((await fetchAll(`${mirror.url}/api/models/acme/secret/tree/main`)).status).toBe(401);
      // whoami goes upstream with the client's own token, every time.
      expect(JSON.parse((await fetchAll(`${mirror.url}/api/whoami-v2`, auth(TOKEN))).body.toString()).name).toBe('hubcache-test');
      expect((await fetchAll(`${mirror.url}/api/whoami-v2`)).status).toBe(401);
      // Gated: metadata for everyone, files only with access.
      expect((await fetchAll(`${mirror.url}/api/models/acme/gated/revision/main`)).status).toBe(200);
      expect((await fetchAll(`${mirror.url}/acme/gated/resolve/main/model.gguf`, auth(TOKEN))).status).toBe(200);
      const gated = await fetchAll(`${mirror.url}/acme/gated/resolve/main/model.gguf`);
      expect(gated.status).toBe(401);
      expect(gated.headers.get('x-error-code')).toBe('GatedRepo');
      expect(JSON.stringify(logs)).not.toContain(TOKEN);
      expect(JSON.stringify(logs)).not.toContain('hf_wrong');
    } finally {
      await mirror.close();
    }
  });

  it('with mirror-issued client tokens, only their holders are served, and upstream gets the mirror token', async () => {
    const mirror = await startMirror({ upstream: origin.url, clientTokens: new Set(['team-token']), upstreamToken: TOKEN });
    try {
      expect((await fetchAll(`${mirror.url}/acme/secret/resolve/main/config.json`)).status).toBe(401);
      expect((await fetchAll(`${mirror.url}/acme/public/resolve/main/config.json`, auth(TOKEN))).status).toBe(401);
      const ok = await fetchAll(`${mirror.url}/acme/secret/resolve/main/config.json`, auth('team-token'));
      expect(ok.status).toBe(200);
      expect(ok.body.toString()).toBe('{"a":1}');
    } finally {
      await mirror.close();
    }
  });
});

describe('protocol details', () => {
  it('hides Xet: no X-Xet-* header, no xet Link, no xetHash (lfs.oid kept)', async () => {
    const mirror = await startMirror({ upstream: origin.url });
    try {
      const head = await fetchAll(`${mirror.url}/acme/public/resolve/main/model.gguf`, { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect([...head.headers.keys()].filter((k) => k.startsWith('x-xet'))).toEqual([]);
      expect(head.headers.get('link') ?? '').not.toMatch(/xet/);
      expect(head.headers.get('content-type')).not.toMatch(/xet/);
      const tree = JSON.parse((await fetchAll(`${mirror.url}/api/models/acme/public/tree/main?recursive=true`)).body.toString()) as Array<Record<string, any>>;
      const gguf = tree.find((e) => e.path === 'model.gguf')!;
      expect(gguf.xetHash).toBeUndefined();
      expect(gguf.lfs.oid).toMatch(/^[0-9a-f]{64}$/);
      const info = await fetchAll(`${mirror.url}/api/models/acme/public/paths-info/main`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'paths=model.gguf&expand=true',
      });
      const entries = JSON.parse(info.body.toString()) as Array<Record<string, any>>;
      expect(entries[0]!.xetHash).toBeUndefined();
      expect(entries[0]!.lfs.oid).toBe(gguf.lfs.oid);
    } finally {
      await mirror.close();
    }
  });

  it('answers a paginated upstream tree in one page without Link, and passes refs and the llama.cpp manifest through', async () => {
    const mirror = await startMirror({ upstream: origin.url });
    try {
      const tree = await fetchAll(`${mirror.url}/api/models/acme/many/tree/main?recursive=true`);
      expect(tree.headers.get('link')).toBeNull();
      expect((JSON.parse(tree.body.toString()) as unknown[]).length).toBe(31);
      const refs = JSON.parse((await fetchAll(`${mirror.url}/api/models/acme/public/refs`)).body.toString());
      expect(refs.branches.find((b: any) => b.name === 'main').targetCommit).toMatch(/^[0-9a-f]{40}$/);
      const manifest = JSON.parse((await fetchAll(`${mirror.url}/v2/acme/public/manifests/latest`)).body.toString());
      expect(manifest.ggufFile.rfilename).toBe('model.gguf');
    } finally {
      await mirror.close();
    }
  });

  it('refuses traversal, malformed and oversized requests with 4xx; serves 200 concurrent connections', async () => {
    const mirror = await startMirror({ upstream: origin.url });
    try {
      for (const path of ['/acme/public/resolve/main/..%2F..%2Fetc%2Fpasswd', '/acme/public/resolve/main/a%5Cb', '/acme/pu--blic/resolve/main/x', `/acme/public/resolve/main/${'x'.repeat(9000)}`]) {
        const res = await fetchAll(`${mirror.url}${path}`);
        expect(res.status, path).toBe(400);
      }
      const big = await fetchAll(`${mirror.url}/api/models/acme/public/paths-info/main`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ paths: ['x'.repeat(2 * 1024 * 1024)] }),
      });
      expect(big.status).toBe(413);
      const results = await Promise.all(Array.from({ length: 200 }, () => fetchAll(`${mirror.url}/acme/public/resolve/main/config.json`)));
      expect(results.every((r) => r.status === 200 && r.body.toString() === '{"a":2}')).toBe(true);
      const metrics = (await fetchAll(`${mirror.url}/metrics`)).body.toString();
      expect(metrics).toMatch(/hubcache_http_requests_total\{route="resolve",status="200"\} 2\d\d/);
      expect(metrics).toMatch(/hubcache_cache_hits_total \d+/);
      expect((await fetchAll(`${mirror.url}/healthz`)).status).toBe(200);
    } finally {
      await mirror.close();
    }
  });
});
