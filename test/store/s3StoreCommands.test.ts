/**
 * The shared store from the command line and from clients, on a real Ceph RGW started for this
 * file: clear errors for every wrong setting, `ls --store`, `verify --store` finding a damaged
 * object that no replica serves, `push`/`pull` between local caches and the bucket, and presigned
 * redirects followed by Python huggingface_hub, @huggingface/hub and `hubcache download`.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { downloadFileToCacheDir } from '@huggingface/hub';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
  }, 180_000);

  it('a fill whose upstream bytes do not hash to their name is cut and never stored', async () => {
    await ceph.createBucket('corrupt');
    const filler = await replica('corrupt');
    const follower = await replica('corrupt');
    const file = origin.file({ repoId: 'acme/s3', path: 'w.bin' });
    origin.faults.add({ kind: 'corrupt', afterBytes: 30 * MiB, match: { path: 'w.bin', method: 'GET' } });
    const first = hashedGet({ url: `${filler.url}/acme/s3/resolve/main/w.bin` });
    await new Promise((r) => setTimeout(r, 300));
    const second = hashedGet({ url: `${follower.url}/acme/s3/resolve/main/w.bin` });
    const results = await Promise.all([first, second]);
    for (const result of results) expect(result.cut).toBe(true);
    const ls = await runCli({ args: ['ls', '--store', 's3://corrupt/m', '--json'], env: ceph.env });
    expect(ls.json().blobs).toEqual([]);
    // The fault is spent: the next request fills it right.
    const again = await hashedGet({ url: `${follower.url}/acme/s3/resolve/main/w.bin` });
    expect(again.sha256).toBe(file.blob.sha256);
  }, 180_000);

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

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
