import { join } from 'node:path';
import { mkdtemp } from 'node:fs/promises';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { createOrigin } from '../test/helpers/origin/createOrigin.js';
import { linearRepo } from '../test/helpers/origin/fixture.js';
import { request } from 'node:http';
import { createHash } from 'node:crypto';
import { startServeProcess } from '../test/helpers/startServeProcess.js';
const MiB = 1024 * 1024;
const size = Number(process.argv[2] ?? 64) * MiB;
const clientsN = Number(process.argv[3] ?? 3);
const env = { AWS_ENDPOINT_URL: 'http://127.0.0.1:17802', AWS_ACCESS_KEY_ID: 'hubcachetest', AWS_SECRET_ACCESS_KEY: 'hubcachetestsecret', AWS_REGION: 'us-east-1' };
const client = new S3Client({ endpoint: env.AWS_ENDPOINT_URL, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY } });
const bucket = `dev${Date.now()}`;
await client.send(new CreateBucketCommand({ Bucket: bucket }));
const origin = await createOrigin({ fixture: { repos: [linearRepo({ repoId: 'acme/big', commits: [{ files: [{ path: 'w.bin', source: { size, seed: 'dev' } }] }] })] } });
const base = await mkdtemp('/tmp/s14-dev/r-');
const reps = await Promise.all([0, 1, 2].map((i) => startServeProcess({ args: ['--upstream', origin.url, '--store', `s3://${bucket}/m`, '--cache-dir', join(base, `r${i}`), '--lease-ttl', process.env.TTL ?? '5', '--no-dashboard'], env })));
const t0 = Date.now();
if (process.env.KILL) {
  origin.faults.add({ kind: 'trickle', bytesPerSecond: 8 * MiB, match: { path: 'w.bin', method: 'GET' } });
  setTimeout(async () => {
    const { ListObjectsV2Command, GetObjectCommand } = await import('@aws-sdk/client-s3');
    const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'm/fills/' }));
    const lease = (listed.Contents ?? []).map((o) => o.Key!).filter((k) => /lease-/.test(k)).pop()!;
    const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: lease }));
    const pid = Number(JSON.parse(await got.Body!.transformToString()).holder.split(':')[1]);
    console.log('killing', pid, (listed.Contents ?? []).map((o) => o.Key).join(' '));
    reps.find((r) => r.child.pid === pid)!.child.kill('SIGKILL');
  }, Number(process.env.KILL));
}
const file = origin.file({ repoId: 'acme/big', path: 'w.bin' });
const results = await Promise.all(Array.from({ length: clientsN }, (_, i) => hashedGet({ url: `${reps[i % 3]!.url}/acme/big/resolve/main/w.bin`, onData: () => {} }).then((r) => ({ ...r, ms: Date.now() - t0, ok: r.sha256 === file.blob.sha256 }))));
console.log(results.map((r) => `${r.status} ${r.bytes} ${r.ok} ${r.ms}ms`).join('\n'));
console.log('upstream', origin.stats.bytesByBlob.get(file.etag));
for (const r of reps) console.log('---', r.stderr().split('\n').filter((l) => !/"GET|"HEAD/.test(l) || /error/.test(l)).slice(-15).join('\n'));
await Promise.all(reps.map((r) => r.stop()));
await origin.close();

function hashedGet(params: { url: string; onData?: (n: number) => void }): Promise<{ status: number; bytes: number; sha256: string; cut: boolean }> {
  return new Promise((resolve) => {
    const req = request(params.url, {}, (res) => {
      const hash = createHash('sha256');
      let bytes = 0;
      let done = false;
      const finish = (cut: boolean): void => { if (done) return; done = true; resolve({ status: res.statusCode ?? 0, bytes, sha256: cut ? '' : hash.digest('hex'), cut }); };
      res.on('data', (chunk: Buffer) => { bytes += chunk.byteLength; hash.update(chunk); });
      res.on('end', () => finish(!res.complete));
      res.on('error', () => finish(true));
      res.on('close', () => finish(!res.complete));
    });
    req.on('error', () => resolve({ status: 0, bytes: 0, sha256: '', cut: true }));
    req.end();
  });
}
