/**
 * The shared store from the command line and from clients, on a real Ceph RGW started for this
 * file: clear errors for every wrong setting, `ls --store`, `verify --store` finding a damaged
 * object that no replica serves, `push`/`pull` between local caches and the bucket, and presigned
 * redirects followed by Python huggingface_hub, @huggingface/hub and `hubcache download`.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { downloadFileToCacheDir } from '@huggingface/hub';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { conditionalDeletes, deleteDamagedObject } from '../../src/store/deleteDamagedObject.js';
import { openS3Connection } from '../../src/store/s3Connection.js';
import { planEvict } from '../../src/maintenance/planEvict.js';
import { cephSkipReason, startCeph, type Ceph } from '../helpers/ceph/startCeph.js';
import { createOrigin, type Origin } from '../helpers/origin/createOrigin.js';
import { linearRepo } from '../helpers/origin/fixture.js';
import { pythonHub, runPython } from '../helpers/pythonHub.js';
import { runCli } from '../helpers/runCli.js';
import { hashedGet } from '../helpers/startMirror.js';
import { startServeProcess, type ServeProcess } from '../helpers/startServeProcess.js';
import { makeTempDir } from '../helpers/tempDir.js';

const MiB = 1024 * 1024;
const skip = cephSkipReason();
if (skip) console.warn(`skipping the S3 store command tests: ${skip}`);

describe.skipIf(skip !== undefined)('the shared store from commands and clients', () => {
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
              repoId: 'acme/s3',
              commits: [{ files: [{ path: 'w.bin', source: { size: 40 * MiB, seed: 's3-cmd' } }, { path: 'small.bin', source: { size: 3 * MiB, seed: 's3-small' } }, { path: 'c.json', source: '{"c":1}' }] }],
            }),
            // Four revisions of 5 MiB (two repos, two commits each) for the local read cache's budget.
            ...['acme/lru-a', 'acme/lru-b'].map((repoId) =>
              linearRepo({
                repoId,
                commits: [0, 1].map((n) => ({ files: [{ path: 'x.bin', source: { size: 5 * MiB, seed: `${repoId}-${n}` } }], refs: [`v${n}`] })),
              }),
            ),
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

  async function storedSha256(bucket: string, key: string): Promise<string> {
    const got = await ceph.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const hash = createHash('sha256');
    for await (const chunk of got.Body as AsyncIterable<Uint8Array>) hash.update(chunk);
    return hash.digest('hex');
  }

  async function replica(bucket: string, extra: string[] = []): Promise<ServeProcess> {
    const r = await startServeProcess({ args: ['--upstream', origin.url, '--store', `s3://${bucket}/m`, '--cache-dir', join(await makeTempDir(), 'hub'), '--no-dashboard', ...extra], env: ceph.env });
    replicas.push(r);
    return r;
  }

  it('says clearly what is wrong: bad URL, no bucket, no credentials, wrong keys, unreachable endpoint', async () => {
    const serve = (store: string, env: Record<string, string | undefined>) =>
      runCli({ args: ['serve', '--port', '0', '--json', '--store', store, '--upstream', origin.url, '--cache-dir', join('/tmp', 'unused-hub')], env: { ...ceph.env, ...env }, timeoutMs: 60_000 });
    const badUrl = await serve('http://bucket', {});
    expect(badUrl.code).toBe(2);
    expect(badUrl.json().error.code).toBe('E_USAGE');
    const noBucket = await serve('s3://no-such-bucket', {});
    expect(noBucket.code).toBe(1);
    expect(noBucket.json().error).toMatchObject({ code: 'E_STORE' });
    expect(noBucket.json().error.message).toMatch(/bucket does not exist/);
    const home = await makeTempDir();
    const noCredentials = await serve('s3://x-bucket', { AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, HOME: home, AWS_PROFILE: undefined });
    expect(noCredentials.json().error.message).toMatch(/no AWS credentials/);
    await ceph.createBucket('errs');
    const wrongKeys = await serve('s3://errs', { AWS_SECRET_ACCESS_KEY: 'wrong' });
    expect(wrongKeys.json().error.message).toMatch(/access denied/);
    const unreachable = await serve('s3://errs', { AWS_ENDPOINT_URL: 'http://127.0.0.1:9' });
    expect(unreachable.json().error.message).toMatch(/cannot be reached/);
  }, 120_000);

  it('ls --store lists what replicas stored; a damaged object is found by verify --store and never served', async () => {
    await ceph.createBucket('dmg');
    const first = await replica('dmg');
    const file = origin.file({ repoId: 'acme/s3', path: 'w.bin' });
    const got = await hashedGet({ url: `${first.url}/acme/s3/resolve/main/w.bin` });
    expect(got.sha256).toBe(file.blob.sha256);
    await hashedGet({ url: `${first.url}/acme/s3/resolve/main/c.json` });

    const ls = await runCli({ args: ['ls', '--store', 's3://dmg/m', '--json'], env: ceph.env });
    expect(ls.code, ls.stderr).toBe(0);
    const listing = ls.json();
    expect(listing.repos[0].repo).toMatchObject({ repoId: 'acme/s3', repoType: 'model' });
    expect(listing.repos[0].commits[0].files.map((f: { path: string }) => f.path).sort()).toEqual(['c.json', 'w.bin']);
    expect(listing.repos[0].refs[0]).toMatchObject({ revision: 'main', commit: listing.repos[0].commits[0].commit });
    expect((await runCli({ args: ['verify', '--store', 's3://dmg/m'], env: ceph.env })).code).toBe(0);

    // Same size, one byte changed: only a hash can tell.
    const damaged = file.blob.body.kind === 'file' ? await readFile(file.blob.body.path) : Buffer.from(file.blob.body.data);
    damaged[damaged.length >> 1]! ^= 0xff;
    await ceph.client.send(new PutObjectCommand({ Bucket: 'dmg', Key: `m/blobs/sha256/${file.etag}`, Body: damaged }));
    const verify = await runCli({ args: ['verify', '--store', 's3://dmg/m', '--json'], env: ceph.env });
    expect(verify.code).toBe(1);
    expect(verify.json().findings).toEqual([expect.objectContaining({ code: 'BLOB_HASH_MISMATCH', key: `m/blobs/sha256/${file.etag}` })]);
    // A replica that has not cached it reads it from the store: the transfer is cut, never completed wrong.
    const fresh = await replica('dmg');
    const served = await hashedGet({ url: `${fresh.url}/acme/s3/resolve/main/w.bin` });
    expect(served.cut).toBe(true);
    expect(served.sha256).not.toBe(createHash('sha256').update(damaged).digest('hex'));
    expect(fresh.stderr()).toMatch(/store-read-failed/);
    // ...and it deleted the damaged object, so the next request fills it again from upstream.
    await until(() => /store-object-removed/.test(fresh.stderr()));
    origin.stats.reset();
    const refilled = await hashedGet({ url: `${fresh.url}/acme/s3/resolve/main/w.bin` });
    expect(refilled).toMatchObject({ status: 200, cut: false, sha256: file.blob.sha256 });
    expect(origin.stats.bytesByBlob.get(file.etag)).toBe(file.blob.size);
    expect(await storedSha256('dmg', `m/blobs/sha256/${file.etag}`)).toBe(file.etag);
    expect((await runCli({ args: ['verify', '--store', 's3://dmg/m'], env: ceph.env })).code).toBe(0);
  }, 180_000);

  it('a stored object of the wrong size is never served either: the fill that finds it replaces it', async () => {
    await ceph.createBucket('size');
    const small = origin.file({ repoId: 'acme/s3', path: 'small.bin' });
    const big = origin.file({ repoId: 'acme/s3', path: 'w.bin' });
    // Longer than the blob, first bytes changed: a reader of the first `size` bytes would get wrong ones.
    for (const f of [small, big]) {
      const good = f.blob.body.kind === 'file' ? await readFile(f.blob.body.path) : Buffer.from(f.blob.body.data);
      const damaged = Buffer.concat([good, Buffer.from('tail')]);
      damaged[0]! ^= 0xff;
      await ceph.client.send(new PutObjectCommand({ Bucket: 'size', Key: `m/blobs/sha256/${f.etag}`, Body: damaged }));
    }
    const r = await replica('size');
    for (const f of [small, big]) {
      const got = await hashedGet({ url: `${r.url}/acme/s3/resolve/main/${f.path}` });
      if (!got.cut) expect(got.sha256).toBe(f.blob.sha256);
      const again = await hashedGet({ url: `${r.url}/acme/s3/resolve/main/${f.path}` });
      expect(again).toMatchObject({ status: 200, cut: false, sha256: f.blob.sha256 });
      expect(await storedSha256('size', `m/blobs/sha256/${f.etag}`)).toBe(f.etag);
    }
  }, 180_000);

  it('verify --store --fix: plan, dry run, confirmation, then only the damaged object goes (never a good one, nothing outside the prefix)', async () => {
    await ceph.createBucket('fix');
    const filler = await replica('fix');
    const file = origin.file({ repoId: 'acme/s3', path: 'w.bin' });
    const small = origin.file({ repoId: 'acme/s3', path: 'small.bin' });
    for (const f of [file, small]) expect((await hashedGet({ url: `${filler.url}/acme/s3/resolve/main/${f.path}` })).sha256).toBe(f.blob.sha256);
    const key = `m/blobs/sha256/${file.etag}`;
    const good = file.blob.body.kind === 'file' ? await readFile(file.blob.body.path) : Buffer.from(file.blob.body.data);
    const damaged = Buffer.from(good);
    damaged[12345]! ^= 0x01;
    await ceph.client.send(new PutObjectCommand({ Bucket: 'fix', Key: key, Body: damaged }));
    // The same damaged bytes outside the store's prefix: not the store's, never touched.
    const outside = `elsewhere/blobs/sha256/${file.etag}`;
    await ceph.client.send(new PutObjectCommand({ Bucket: 'fix', Key: outside, Body: damaged }));
    const damagedSha = sha256(damaged);

    const dry = await runCli({ args: ['verify', '--store', 's3://fix/m', '--fix', '--dry-run', '--json'], env: ceph.env });
    expect(dry.code, dry.stderr).toBe(1);
    expect(dry.json()).toMatchObject({ dryRun: true, result: null, plan: { totals: { items: 1, bytes: damaged.length } } });
    expect(dry.json().plan.items).toEqual([expect.objectContaining({ key, bytes: damaged.length })]);
    const text = await runCli({ args: ['verify', '--store', 's3://fix/m', '--fix', '-n'], env: ceph.env });
    expect(text.stdout).toContain(key);
    expect(text.stdout).toMatch(/remove 1 damaged object/);
    // No terminal to ask and no --yes: refused.
    const unasked = await runCli({ args: ['verify', '--store', 's3://fix/m', '--fix', '--json'], env: ceph.env });
    expect(unasked.code).toBe(1);
    expect(unasked.json().error.code).toBe('E_ABORTED');
    expect(await storedSha256('fix', key)).toBe(damagedSha);

    const fixed = await runCli({ args: ['verify', '--store', 's3://fix/m', '--fix', '--yes', '--json'], env: ceph.env });
    expect(fixed.code, fixed.stderr).toBe(0);
    expect(fixed.json()).toMatchObject({ dryRun: false, result: { removed: 1, kept: [], failed: [] }, afterFix: { ok: true } });
    expect(await storedSha256('fix', key).catch(() => 'gone')).toBe('gone');
    expect(await storedSha256('fix', `m/blobs/sha256/${small.etag}`)).toBe(small.etag);
    expect(await storedSha256('fix', outside)).toBe(damagedSha);
    expect((await runCli({ args: ['verify', '--store', 's3://fix/m'], env: ceph.env })).code).toBe(0);

    // A replica stored it again (good bytes) after the damage was hashed: the delete of the damaged
    // object it planned keeps the good one.
    const conn = await openS3Connection({ location: { bucket: 'fix', prefix: 'm/' }, settings: { region: 'us-east-1', forcePathStyle: true, endpoint: ceph.endpoint }, client: ceph.client });
    await ceph.client.send(new PutObjectCommand({ Bucket: 'fix', Key: key, Body: damaged }));
    const damagedEtag = (await ceph.client.send(new HeadObjectCommand({ Bucket: 'fix', Key: key }))).ETag!;
    await ceph.client.send(new PutObjectCommand({ Bucket: 'fix', Key: key, Body: good }));
    expect(await deleteDamagedObject({ conn, key, objectEtag: damagedEtag })).toBe('changed');
    expect(await storedSha256('fix', key)).toBe(file.etag);
    await expect(deleteDamagedObject({ conn, key: outside, objectEtag: damagedEtag })).rejects.toThrow(/not a blob object/);
    await expect(deleteDamagedObject({ conn, key: 'm/files/x', objectEtag: damagedEtag })).rejects.toThrow(/not a blob object/);
    // The store reports whether it honours If-Match on deletes (Ceph 16-18 do not; the HEAD check stands alone then).
    expect(fixed.json().result.deleteGuard).toBe((await conditionalDeletes(conn)) ? 'if-match' : 'head-check');
  }, 180_000);

  it('a fill whose upstream bytes do not hash to their name is cut and never stored; the next request retries at once', async () => {
    await ceph.createBucket('corrupt');
    // A lease TTL far beyond the test's time: the retry must not wait for the failed lease to expire.
    const filler = await replica('corrupt', ['--lease-ttl', '600']);
    const follower = await replica('corrupt', ['--lease-ttl', '600']);
    const file = origin.file({ repoId: 'acme/s3', path: 'w.bin' });
    origin.stats.reset();
    origin.faults.add({ kind: 'corrupt', afterBytes: 30 * MiB, match: { path: 'w.bin', method: 'GET' } });
    const first = hashedGet({ url: `${filler.url}/acme/s3/resolve/main/w.bin` });
    await new Promise((r) => setTimeout(r, 300));
    const second = hashedGet({ url: `${follower.url}/acme/s3/resolve/main/w.bin` });
    const results = await Promise.all([first, second]);
    for (const result of results) expect(result.cut).toBe(true);
    const ls = await runCli({ args: ['ls', '--store', 's3://corrupt/m', '--json'], env: ceph.env });
    expect(ls.json().blobs).toEqual([]);
    // The follower stopped with the filler: the wrong bytes crossed once, nobody fetched them again.
    expect(origin.stats.bytesByBlob.get(file.etag)).toBe(file.blob.size);
    expect(follower.stderr()).not.toMatch(/fill-takeover/);
    // The fault is spent: the next request (on either replica) fills it right, without waiting for the lease.
    const again = await hashedGet({ url: `${follower.url}/acme/s3/resolve/main/w.bin` });
    expect(again).toMatchObject({ status: 200, cut: false, sha256: file.blob.sha256 });
    expect(origin.stats.bytesByBlob.get(file.etag)).toBe(2 * file.blob.size);
    expect(await storedSha256('corrupt', `m/blobs/sha256/${file.etag}`)).toBe(file.etag);
    expect(follower.stderr()).toMatch(/"event":"fill-retry"/);
  }, 180_000);

  it('serve --store --budget keeps the local read cache within the budget by evict\'s rules; evicted blobs are served from the store again', async () => {
    await ceph.createBucket('budget');
    const filler = await replica('budget');
    const cacheDir = join(await makeTempDir(), 'hub');
    const budget = 12 * MiB;
    const bounded = await startServeProcess({
      args: ['--upstream', origin.url, '--store', 's3://budget/m', '--cache-dir', cacheDir, '--no-dashboard', '--budget', String(budget)],
      env: ceph.env,
    });
    replicas.push(bounded);
    const files = ['acme/lru-a', 'acme/lru-b'].flatMap((repoId) => ['v0', 'v1'].map((ref) => ({ repoId, ref, file: origin.file({ repoId, path: 'x.bin', revision: ref }) })));
    // In the store first (one upstream transfer each), then read through the bounded replica, twice around.
    for (const { repoId, ref, file } of files) expect((await hashedGet({ url: `${filler.url}/${repoId}/resolve/${ref}/x.bin` })).sha256).toBe(file.blob.sha256);
    origin.stats.reset();
    const get = async (i: number): Promise<void> => {
      const { repoId, ref, file } = files[i]!;
      const got = await hashedGet({ url: `${bounded.url}/${repoId}/resolve/${ref}/x.bin` });
      expect(got).toMatchObject({ status: 200, cut: false, sha256: file.blob.sha256 });
    };
    const inLocalCache = (i: number): boolean => existsSync(join(cacheDir, `models--${files[i]!.repoId.replace('/', '--')}`, 'blobs', files[i]!.file.etag));
    // Least recently USED goes first: 0 and 1 copied in, 0 read again (a hit), then 2 needs room: 1 goes, not 0.
    await get(0);
    await get(1);
    await get(0);
    await get(2);
    await until(() => blobBytes(cacheDir) <= budget);
    expect([0, 1, 2].map(inLocalCache)).toEqual([true, false, true]);
    for (let round = 0; round < 2; round++) {
      for (const { repoId, ref, file } of files) {
        const got = await hashedGet({ url: `${bounded.url}/${repoId}/resolve/${ref}/x.bin` });
        expect(got).toMatchObject({ status: 200, cut: false, sha256: file.blob.sha256 });
        // The evictor runs once the copy into the local cache ends: wait for it to settle.
        await until(() => blobBytes(cacheDir) <= budget);
      }
    }
    // Concurrent clients, each file twice, while evictions run under them.
    const all = await Promise.all([...files, ...files].map(({ repoId, ref }) => hashedGet({ url: `${bounded.url}/${repoId}/resolve/${ref}/x.bin` })));
    all.forEach((got, i) => expect(got).toMatchObject({ status: 200, cut: false, sha256: files[i % files.length]!.file.blob.sha256 }));
    await until(() => blobBytes(cacheDir) <= budget);
    // Everything after the first fills came from the store, not upstream.
    expect(origin.stats.bodyBytes).toBe(0);
    // What is left is a healthy hub cache with the most recently used revisions.
    const plan = await planEvict({ cacheDir, maxBytes: budget });
    expect(plan.budget).toMatchObject({ met: true });
    expect(plan.budget!.bytesBefore).toBeGreaterThan(0);
    expect((await runCli({ args: ['verify', '--cache-dir', cacheDir], env: {} })).code).toBe(0);
  }, 240_000);

  it('push from one local cache and pull into another: identical, verified files', async () => {
    await ceph.createBucket('pushpull');
    const env = { ...ceph.env, HF_ENDPOINT: origin.url };
    const source = join(await makeTempDir(), 'hub');
    expect((await runCli({ args: ['download', 'acme/s3', '--cache-dir', source], env })).code).toBe(0);
    const push = await runCli({ args: ['push', 'acme/s3', '--store', 's3://pushpull/team', '--cache-dir', source, '--json'], env });
    expect(push.code, push.stderr).toBe(0);
    expect(push.json()).toMatchObject({ files: 3, blobsUploaded: 3, refs: 1 });
    const again = await runCli({ args: ['push', 'acme/s3', '--store', 's3://pushpull/team', '--cache-dir', source, '--json'], env });
    expect(again.json()).toMatchObject({ blobsUploaded: 0, blobsAlreadyThere: 3 });
    const target = join(await makeTempDir(), 'hub');
    const pull = await runCli({ args: ['pull', 'acme/s3@main', '--store', 's3://pushpull/team', '--cache-dir', target, '--json'], env: { ...ceph.env, HF_HUB_OFFLINE: '1' } });
    expect(pull.code, pull.stderr).toBe(0);
    expect(pull.json()).toMatchObject({ files: 3 });
    const path = await runCli({ args: ['path', 'acme/s3', 'w.bin', '--cache-dir', target], env: {} });
    expect(path.code).toBe(0);
    expect(createHash('sha256').update(await readFile(path.stdout.trim())).digest('hex')).toBe(origin.file({ repoId: 'acme/s3', path: 'w.bin' }).blob.sha256);
    expect((await runCli({ args: ['verify', '--cache-dir', target], env: {} })).code).toBe(0);
  }, 180_000);

  it('presigned redirects and streamed reads give the same bytes to huggingface_hub, @huggingface/hub and hubcache download', async () => {
    await ceph.createBucket('pre');
    const streamed = await replica('pre');
    const redirecting = await replica('pre', ['--presign', '300']);
    const file = origin.file({ repoId: 'acme/s3', path: 'w.bin' });
    // Filled once (through the streaming replica), then the redirecting one answers with a 302.
    expect((await hashedGet({ url: `${streamed.url}/acme/s3/resolve/main/w.bin` })).sha256).toBe(file.blob.sha256);
    const head = await fetch(`${redirecting.url}/acme/s3/resolve/main/w.bin`, { redirect: 'manual' });
    expect(head.status).toBe(302);
    expect(head.headers.get('location')).toMatch(/X-Amz-Signature=/);
    for (const mirror of [streamed, redirecting]) {
      const cli = await runCli({ args: ['download', 'acme/s3', 'w.bin', '--cache-dir', join(await makeTempDir(), 'hub')], env: { HF_ENDPOINT: mirror.url } });
      expect(cli.code, cli.stderr).toBe(0);
      expect(sha256(await readFile(cli.stdout.trim()))).toBe(file.blob.sha256);
      const js = await downloadFileToCacheDir({ repo: 'acme/s3', path: 'w.bin', hubUrl: mirror.url, cacheDir: join(await makeTempDir(), 'hub') });
      expect(sha256(await readFile(js))).toBe(file.blob.sha256);
      const python = pythonHub();
      if (!python) {
        console.warn('Python huggingface_hub part skipped: no .venv-hub');
        continue;
      }
      const result = await runPython({
        python,
        script: `from huggingface_hub import hf_hub_download\nprint(hf_hub_download('acme/s3', 'w.bin'))`,
        env: { HF_ENDPOINT: mirror.url, HF_HUB_CACHE: join(await makeTempDir(), 'hub'), HF_HUB_DISABLE_PROGRESS_BARS: '1', HF_TOKEN: undefined, HF_HUB_DISABLE_TELEMETRY: '1' },
      });
      expect(result.status, result.stderr).toBe(0);
      expect(sha256(await readFile(result.stdout.trim()))).toBe(file.blob.sha256);
    }
  }, 240_000);
});

/** Bytes of every file in the cache's blobs/ folders (blobs, partials): what the disk holds. */
function blobBytes(cacheDir: string): number {
  let total = 0;
  for (const repo of readdirSync(cacheDir)) {
    const blobs = join(cacheDir, repo, 'blobs');
    if (!repo.includes('--') || !existsSync(blobs)) continue;
    for (const name of readdirSync(blobs)) total += statSync(join(blobs, name)).size;
  }
  return total;
}

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 600 && !condition(); i++) await new Promise((r) => setTimeout(r, 50));
  expect(condition()).toBe(true);
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
