/**
 * Clients probing for what they may not read: another client's private file while it is being
 * filled (the running fill must not be joined), and a repo that went private upstream (the
 * remembered "allowed" runs out after the access TTL).
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOrigin, type Origin } from '../helpers/origin/createOrigin.js';
import { linearRepo, type FixtureRepo } from '../helpers/origin/fixture.js';
import { fetchAll, startMirror } from '../helpers/startMirror.js';

const MiB = 1024 * 1024;
const TOKEN = 'hf_authprobe123';
let origin: Origin;

function repos(openIsPrivate: boolean): FixtureRepo[] {
  return [
    linearRepo({ repoId: 'acme/secret', private: true, commits: [{ files: [{ path: 'w.bin', source: { size: 8 * MiB, seed: 'auth-secret' } }] }] }),
    linearRepo({ repoId: 'acme/open', private: openIsPrivate, commits: [{ files: [{ path: 'c.json', source: '{"open":1}' }] }] }),
  ];
}

beforeAll(async () => {
  origin = await createOrigin({ fixture: { repos: repos(false) }, token: TOKEN });
});
afterAll(async () => origin?.close());

describe('probing for other clients\' private files', () => {
  it('an anonymous or wrong-token client asking while an allowed client fills a private file: refused, never joined to the fill', async () => {
    const mirror = await startMirror({ upstream: origin.url });
    try {
      origin.faults.add({ kind: 'trickle', bytesPerSecond: 4 * MiB, match: { path: 'w.bin' } });
      const url = `${mirror.url}/acme/secret/resolve/main/w.bin`;
      let probes: Promise<Array<{ status: number; body: Buffer }>> | undefined;
      const allowed = await new Promise<number>((resolve) => {
        const req = request(url, { headers: { authorization: `Bearer ${TOKEN}` } }, (res) => {
          let bytes = 0;
          res.on('data', (chunk: Buffer) => {
            bytes += chunk.byteLength;
            probes ??= Promise.all([fetchAll(url), fetchAll(url, { headers: { authorization: 'Bearer hf_someoneelse' } }), fetchAll(url, { method: 'HEAD' })]);
          });
          res.on('end', () => resolve(bytes));
        });
        req.end();
      });
      expect(allowed).toBe(8 * MiB);
      const refused = await probes!;
      for (const probe of refused) {
        expect(probe.status).toBe(401);
        expect(probe.body.byteLength).toBeLessThan(1024);
      }
      // Cached now: still refused.
      expect((await fetchAll(url)).status).toBe(401);
    } finally {
      origin.faults.clear();
      await mirror.close();
    }
  });

  it('a repo that goes private upstream: served from the cache only until the access TTL runs out', async () => {
    const mirror = await startMirror({ upstream: origin.url, accessTtlMs: 500 });
    try {
      const url = `${mirror.url}/acme/open/resolve/main/c.json`;
      expect((await fetchAll(url)).status).toBe(200);
      await origin.setFixture({ repos: repos(true) });
      await new Promise((r) => setTimeout(r, 700));
      const after = await fetchAll(url);
      expect(after.status).toBe(401);
      expect((await fetchAll(`${mirror.url}/api/models/acme/open/revision/main`)).status).toBe(401);
    } finally {
      await origin.setFixture({ repos: repos(false) });
      await mirror.close();
    }
  });
});
