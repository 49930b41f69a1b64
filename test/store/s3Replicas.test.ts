/**
 * N `hubcache serve --store s3://...` replicas (real processes) over one bucket of a real Ceph RGW
 * started for this file: one upstream transfer per blob whatever replica clients hit, followers
 * get the parts from the filling replica (peer) and fall back to the store when the peer is wrong
 * or gone, and a replica killed (-9) mid-fill is taken over without a wrong or partial blob
 * becoming visible.
 */
import { createHash } from 'node:crypto';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cephSkipReason, startCeph, type Ceph } from '../helpers/ceph/startCeph.js';
import { createOrigin, type Origin } from '../helpers/origin/createOrigin.js';
import { linearRepo } from '../helpers/origin/fixture.js';
import { hashedGet } from '../helpers/startMirror.js';
import { startServeProcess, type ServeProcess } from '../helpers/startServeProcess.js';
import { makeTempDir } from '../helpers/tempDir.js';

const MiB = 1024 * 1024;
const skip = cephSkipReason();
if (skip) console.warn(`skipping the S3 replica tests: ${skip}`);

describe.skipIf(skip !== undefined)('replicas sharing a Ceph RGW bucket', () => {
  let ceph: Ceph;
  let origin: Origin;
  const replicas: ServeProcess[] = [];

  beforeAll(async () => {
    [ceph, origin] = await Promise.all([
      startCeph(),
      createOrigin({
        fixture: {
          repos: [
            linearRepo({
              repoId: 'acme/big',
              commits: [
                {
                  files: [
                    { path: 'w.bin', source: { size: 256 * MiB, seed: 's3-big' } },
                    { path: 'k.bin', source: { size: 96 * MiB, seed: 's3-kill' } },
                    { path: 'c.json', source: '{"config":1}' },
                    { path: 'p.bin', source: { size: 64 * MiB, seed: 's3-peer-junk' } },
                    { path: 'q.bin', source: { size: 48 * MiB, seed: 's3-peer-route' } },
                  ],
                },
              ],
            }),
          ],
        },
      }),
    ]);
  }, 240_000);

  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.stop().catch(() => undefined)));
    await origin?.close();
    await ceph?.stop();
  }, 60_000);

  async function startReplicas(bucket: string, n: number, extra: string[] = []): Promise<ServeProcess[]> {
    const base = await makeTempDir({ prefix: 'hubcache-replicas-' });
    const started = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        startServeProcess({
          args: ['--upstream', origin.url, '--store', `s3://${bucket}/mirror`, '--cache-dir', join(base, `r${i}`), '--no-dashboard', ...extra],
          env: ceph.env,
        }),
      ),
    );
    replicas.push(...started);
    return started;
  }

  /** Parts the replicas' followers got from the filling peer and from the store (their /metrics). */
  async function followerParts(list: ServeProcess[]): Promise<{ peer: number; store: number }> {
    const total = { peer: 0, store: 0 };
    for (const replica of list) {
      const text = await (await fetch(`${replica.url}/metrics`)).text();
      total.peer += Number(/hubcache_follower_parts_total\{source="peer"\} (\d+)/.exec(text)![1]);
      total.store += Number(/hubcache_follower_parts_total\{source="store"\} (\d+)/.exec(text)![1]);
    }
    return total;
  }

  /** The newest lease of a blob's fill in the bucket, once one exists with `parts` parts landed. */
  async function waitForLease(bucket: string, etag: string, parts: number): Promise<{ holder: string; peer?: { url: string; key: string } }> {
    for (let i = 0; i < 300; i++) {
      const listed = await ceph.client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `mirror/fills/sha256/${etag}/` }));
      const keys = (listed.Contents ?? []).map((o) => o.Key!);
      const lease = keys.filter((k) => /lease-/.test(k)).sort().at(-1);
      if (lease && keys.filter((k) => /part-/.test(k)).length >= parts) {
        const got = await ceph.client.send(new GetObjectCommand({ Bucket: bucket, Key: lease }));
        return JSON.parse(await got.Body!.transformToString()) as { holder: string; peer?: { url: string; key: string } };
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('no lease with parts appeared');
  }

  async function storedSha256(bucket: string, key: string): Promise<string> {
    const got = await ceph.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const hash = createHash('sha256');
    for await (const chunk of got.Body as AsyncIterable<Uint8Array>) hash.update(chunk);
    return hash.digest('hex');
  }

  it('3 replicas, 12 concurrent cold clients, one 256 MiB file: one upstream transfer, right bytes everywhere', async () => {
    await ceph.createBucket('cold');
    const three = await startReplicas('cold', 3);
    expect(three[0]!.stderr()).toMatch(/"conditionalWrites":true/);
    const file = origin.file({ repoId: 'acme/big', path: 'w.bin' });
    origin.stats.reset();
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => hashedGet({ url: `${three[i % 3]!.url}/acme/big/resolve/main/w.bin` })));
    for (const result of results) {
      expect(result).toMatchObject({ status: 200, bytes: file.blob.size, cut: false, sha256: file.blob.sha256 });
    }
    expect(origin.stats.bytesByBlob.get(file.etag)).toBe(file.blob.size);
    expect(await storedSha256('cold', `mirror/blobs/sha256/${file.etag}`)).toBe(file.etag);
    // The fill's parts and leases are gone once the blob is complete.
    const leftovers = await ceph.client.send(new ListObjectsV2Command({ Bucket: 'cold', Prefix: 'mirror/fills/' }));
    expect(leftovers.Contents ?? []).toEqual([]);
    // The two following replicas got (nearly) every part from the filling one, not from the store.
    const parts = await followerParts(three);
    expect(parts.peer).toBeGreaterThan(0);
    expect(parts.peer).toBeGreaterThanOrEqual(3 * parts.store);
    // A later client on any replica reads it without upstream.
    origin.stats.reset();
    const warm = await hashedGet({ url: `${three[1]!.url}/acme/big/resolve/main/w.bin` });
    expect(warm.sha256).toBe(file.blob.sha256);
    expect(origin.stats.bodyBytes).toBe(0);
  }, 600_000);

  it('a peer answering wrong bytes: followers check each part against the store, read it there, and clients get the right bytes', async () => {
    await ceph.createBucket('junk');
    const file = origin.file({ repoId: 'acme/big', path: 'p.bin' });
    // Every replica advertises this liar: same length as the part asked, wrong bytes, sent once the
    // part is in the store (as the real leader does), so the followers' check of the bytes is what fails.
    const asked: string[] = [];
    const partMetadata: Array<Record<string, string> | undefined> = [];
    const liar = await new Promise<Server>((resolve) => {
      const server = createServer((req, res) => {
        asked.push(req.url ?? '');
        void (async () => {
          const index = Number(/parts\/(\d+)$/.exec(req.url ?? '')?.[1]);
          const Key = `mirror/fills/sha256/${file.etag}/part-${String(index).padStart(5, '0')}`;
          for (let tries = 0; tries < 200; tries++) {
            const head = await ceph.client.send(new HeadObjectCommand({ Bucket: 'junk', Key })).catch(() => undefined);
            if (head) {
              partMetadata.push(head.Metadata);
              break;
            }
            await new Promise((r) => setTimeout(r, 50));
          }
          const data = Buffer.alloc(16 * MiB, 0x5a);
          res.writeHead(200, { 'content-length': String(data.byteLength) }).end(data);
        })();
      });
      server.listen(0, '127.0.0.1', () => resolve(server));
    });
    try {
      const liarUrl = `http://127.0.0.1:${(liar.address() as AddressInfo).port}`;
      const three = await startReplicas('junk', 3, ['--advertise-url', liarUrl]);
      origin.stats.reset();
      origin.faults.add({ kind: 'trickle', bytesPerSecond: 24 * MiB, match: { path: 'p.bin', method: 'GET' } });
      const results = await Promise.all(Array.from({ length: 6 }, (_, i) => hashedGet({ url: `${three[i % 3]!.url}/acme/big/resolve/main/p.bin` })));
      for (const result of results) expect(result).toMatchObject({ status: 200, bytes: file.blob.size, cut: false, sha256: file.blob.sha256 });
      expect(origin.stats.bytesByBlob.get(file.etag)).toBe(file.blob.size);
      expect(asked.length).toBeGreaterThan(0);
      expect(asked[0]).toMatch(new RegExp(`^/api/hubcache/peer/fills/sha256/${file.etag}/parts/\\d+$`));
      const parts = await followerParts(three);
      expect(parts.peer).toBe(0);
      expect(parts.store).toBeGreaterThan(0);
      // Checked by the sha256 the filling replica put in each part object's metadata.
      expect(partMetadata[0]).toEqual({ 'hubcache-sha256': expect.stringMatching(/^[0-9a-f]{64}$/) });
      expect(three.map((r) => r.stderr()).join('')).toMatch(/"event":"peer-part-failed"[^\n]*"reason":"sha256 [0-9a-f]{64}, the stored part's is [0-9a-f]{64}"/);
    } finally {
      await new Promise((r) => liar.close(r));
    }
  }, 600_000);

  it('the peer route answers a part only to the key of the lease it holds: 403, 404, 400, never a crash', async () => {
    await ceph.createBucket('route');
    const two = await startReplicas('route', 2);
    const file = origin.file({ repoId: 'acme/big', path: 'q.bin' });
    // Slow upstream: the fill is still running while the route is probed.
    origin.faults.add({ kind: 'trickle', bytesPerSecond: 4 * MiB, match: { path: 'q.bin', method: 'GET' } });
    const client = hashedGet({ url: `${two[0]!.url}/acme/big/resolve/main/q.bin` });
    const lease = await waitForLease('route', file.etag, 1);
    expect(lease.peer).toBeDefined();
    const { url, key } = lease.peer!;
    expect(url).toBe(two[0]!.url);
    expect(key).toMatch(/^[A-Za-z0-9_-]{32}$/);
    const part = (etag: string, index: string | number): string => `${url}/api/hubcache/peer/fills/sha256/${etag}/parts/${index}`;
    const get = (target: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; body: Buffer }> =>
      new Promise((resolve, reject) => {
        // Sent as written (no URL normalisation of `..`).
        const { hostname, port } = new URL(target.replace(/\/api\/.*$/, ''));
        const path = target.slice(target.indexOf('/api/'));
        const req = request({ hostname, port, path, method, headers }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        });
        req.on('error', reject);
        req.end();
      });
    // The right key: exactly the stored part's bytes.
    const ok = await get(part(file.etag, 0), { 'x-hubcache-peer-key': key });
    expect(ok.status).toBe(200);
    expect(ok.body.byteLength).toBe(16 * MiB);
    const head = await ceph.client.send(new HeadObjectCommand({ Bucket: 'route', Key: `mirror/fills/sha256/${file.etag}/part-00000` }));
    expect(`"${createHash('md5').update(ok.body).digest('hex')}"`).toBe(head.ETag);
    expect((await get(part(file.etag, 0), { 'x-hubcache-peer-key': `${key.slice(0, -1)}x` })).status).toBe(403);
    expect((await get(part(file.etag, 0))).status).toBe(403);
    expect((await get(part('a'.repeat(64), 0), { 'x-hubcache-peer-key': key })).status).toBe(404);
    // The replica that follows leads nothing: 404 even with the key.
    expect((await get(`${two[1]!.url}/api/hubcache/peer/fills/sha256/${file.etag}/parts/0`, { 'x-hubcache-peer-key': key })).status).toBe(404);
    expect((await get(part(file.etag, 3), { 'x-hubcache-peer-key': key })).status).toBe(404);
    expect((await get(part(file.etag, 'abc'), { 'x-hubcache-peer-key': key })).status).toBe(400);
    expect((await get(part(file.etag, -1), { 'x-hubcache-peer-key': key })).status).toBe(400);
    expect((await get(part('..%2F..%2Fetc', 0), { 'x-hubcache-peer-key': key })).status).toBe(400);
    expect((await get(part('ZZ', 0), { 'x-hubcache-peer-key': key })).status).toBe(400);
    expect((await get(`${url}/api/hubcache/peer/fills/sha1/${file.etag}/parts/0`, { 'x-hubcache-peer-key': key })).status).toBe(400);
    expect((await get(`${url}/api/hubcache/peer/../../etc/passwd`, { 'x-hubcache-peer-key': key })).status).toBe(404);
    expect((await get(`${url}/api/hubcache/peer/fills/sha256/${file.etag}/parts/0/x`, { 'x-hubcache-peer-key': key })).status).toBe(404);
    expect((await get(part(file.etag, 0), { 'x-hubcache-peer-key': key }, 'POST')).status).toBe(405);
    // Still serving, and the fill completes with the right bytes.
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    expect(await client).toMatchObject({ status: 200, bytes: file.blob.size, cut: false, sha256: file.blob.sha256 });
  }, 600_000);

  it('kill -9 of the filling replica mid-transfer: another takes over, the file arrives once and verified', async () => {
    await ceph.createBucket('kill');
    const three = await startReplicas('kill', 3, ['--lease-ttl', '5']);
    const file = origin.file({ repoId: 'acme/big', path: 'k.bin' });
    origin.stats.reset();
    // Slow enough to kill the filler mid-way (the first upstream GET only; a takeover runs at full speed).
    origin.faults.add({ kind: 'trickle', bytesPerSecond: 12 * MiB, match: { path: 'k.bin', method: 'GET' } });
    const clients = three.map((replica) => hashedGet({ url: `${replica.url}/acme/big/resolve/main/k.bin` }));
    // Wait for the lease and for some parts to land, then kill the holder.
    let holderPid: number | undefined;
    for (let i = 0; i < 200 && holderPid === undefined; i++) {
      const listed = await ceph.client.send(new ListObjectsV2Command({ Bucket: 'kill', Prefix: `mirror/fills/sha256/${file.etag}/` }));
      const keys = (listed.Contents ?? []).map((o) => o.Key!);
      const lease = keys.find((k) => /lease-/.test(k));
      if (lease && keys.filter((k) => /part-/.test(k)).length >= 2) {
        const got = await ceph.client.send(new GetObjectCommand({ Bucket: 'kill', Key: lease }));
        holderPid = Number((JSON.parse(await got.Body!.transformToString()) as { holder: string }).holder.split(':')[1]);
      } else {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    expect(holderPid).toBeDefined();
    const victim = three.find((r) => r.child.pid === holderPid)!;
    expect(victim).toBeDefined();
    victim.child.kill('SIGKILL');
    const results = await Promise.all(clients);
    three.forEach((replica, i) => {
      if (replica === victim) expect(results[i]!.cut).toBe(true);
      else expect(results[i]).toMatchObject({ status: 200, bytes: file.blob.size, cut: false, sha256: file.blob.sha256 });
    });
    expect(await storedSha256('kill', `mirror/blobs/sha256/${file.etag}`)).toBe(file.etag);
    const survivors = three.filter((r) => r !== victim);
    // The follower was fetching parts from the victim: those fetches failed over to the store or the new leader.
    expect(survivors.some((r) => /"event":"peer-part-failed"/.test(r.stderr()))).toBe(true);
    expect(survivors.some((r) => /fill-takeover/.test(r.stderr()))).toBe(true);
    // Resumed from the parts already stored: upstream sent the file about once, not twice.
    expect(origin.stats.bytesByBlob.get(file.etag)!).toBeLessThan(file.blob.size + 32 * MiB);
    // A fresh client after all that gets the verified blob.
    const again = await hashedGet({ url: `${survivors[0]!.url}/acme/big/resolve/main/k.bin` });
    expect(again.sha256).toBe(file.blob.sha256);
  }, 600_000);
});
