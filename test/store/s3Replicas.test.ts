/**
 * N `hubcache serve --store s3://...` replicas (real processes) over one bucket of a real Ceph RGW
 * started for this file: one upstream transfer per blob whatever replica clients hit, and a
 * replica killed (-9) mid-fill is taken over without a wrong or partial blob becoming visible.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
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
    // A later client on any replica reads it without upstream.
    origin.stats.reset();
    const warm = await hashedGet({ url: `${three[1]!.url}/acme/big/resolve/main/w.bin` });
    expect(warm.sha256).toBe(file.blob.sha256);
    expect(origin.stats.bodyBytes).toBe(0);
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
    expect(survivors.some((r) => /fill-takeover/.test(r.stderr()))).toBe(true);
    // Resumed from the parts already stored: upstream sent the file about once, not twice.
    expect(origin.stats.bytesByBlob.get(file.etag)!).toBeLessThan(file.blob.size + 32 * MiB);
    // A fresh client after all that gets the verified blob.
    const again = await hashedGet({ url: `${survivors[0]!.url}/acme/big/resolve/main/k.bin` });
    expect(again.sha256).toBe(file.blob.sha256);
  }, 600_000);
});
