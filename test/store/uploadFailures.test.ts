/**
 * The filling replica's upload (uploadBlob) when the store or the lease fails while upstream's bytes
 * are still arriving, without Ceph: a small S3 stand-in on a real socket (it lists no parts, takes
 * or refuses each part PUT as the test says) and an upstream that sends the blob with a
 * Content-Length (the raw socket reader's way in). The upload must end with the failure, not wait
 * for room that never comes, and only once every part handed on has been taken in (the caller then
 * drops the fill's buffers). The upload over a real Ceph RGW is in uploadBlob.test.ts.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { S3Client } from '@aws-sdk/client-s3';
import { afterEach, describe, expect, it } from 'vitest';
import type { S3Connection } from '../../src/store/s3Connection.js';
import { s3Keys } from '../../src/store/s3Keys.js';
import { uploadBlob, type UploadBlobParams } from '../../src/store/s3Upload.js';

const PART = 64 * 1024;
// As createS3Client does: the SDK's Node-version warning asks for nothing a test can do.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const keys = s3Keys({ prefix: 'm/' });
/** Past this an upload still running counts as hung. */
const BOUND_MS = 5_000;

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Upstream: the blob with its Content-Length. */
function upstream(data: Buffer): Promise<string> {
  return serve((_req, res) => {
    res.writeHead(200, { 'content-length': String(data.byteLength), 'content-type': 'application/octet-stream' });
    res.end(data);
  });
}

/** Upstream without a Content-Length (chunked): node:http's way in, not the raw reader's. */
function chunkedUpstream(data: Buffer): Promise<string> {
  return serve((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    for (let at = 0; at < data.byteLength; at += PART / 2) res.write(data.subarray(at, at + PART / 2));
    res.end();
  });
}

/** An S3 stand-in: no parts listed; each part PUT answered by `put` (by part index) once its body is in. */
async function store(put: (index: number) => Promise<'ok' | 'refuse'>): Promise<S3Connection> {
  const url = await serve((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.method === 'GET' && req.url?.includes('list-type=2')) {
        res.writeHead(200, { 'content-type': 'application/xml' });
        res.end('<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>b</Name><KeyCount>0</KeyCount><IsTruncated>false</IsTruncated></ListBucketResult>');
        return;
      }
      const index = /part-(\d+)/.exec(req.url ?? '')?.[1];
      if (req.method === 'PUT' && index !== undefined) {
        void put(Number(index)).then((answer) => {
          if (answer === 'ok') {
            res.writeHead(200, { etag: `"${createHash('md5').update(Buffer.concat(chunks)).digest('hex')}"` });
            res.end();
          } else {
            res.writeHead(403, { 'content-type': 'application/xml' });
            res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>refused</Message></Error>');
          }
        });
        return;
      }
      res.writeHead(204);
      res.end();
    });
  });
  const client = new S3Client({ region: 'us-east-1', endpoint: url, forcePathStyle: true, credentials: { accessKeyId: 'a', secretAccessKey: 'b' }, maxAttempts: 1 });
  return { client, bucket: 'b', prefix: 'm/', conditionalWrites: false, describe: url };
}

/** The upload's outcome, or 'still running' past BOUND_MS. */
function bounded(upload: Promise<void>): Promise<string> {
  return Promise.race([
    upload.then(
      () => 'stored',
      (err: Error) => `failed: ${err.message}`,
    ),
    new Promise<string>((resolve) => setTimeout(() => resolve('still running'), BOUND_MS).unref()),
  ]);
}

/** uploadBlob of `data` from `url` into `conn`, in PART-sized parts, with the hooks a case sets. */
function upload(params: { data: Buffer; conn: S3Connection; url: string } & Pick<UploadBlobParams, 'assertLease' | 'onPart'>): Promise<void> {
  const { data, conn, url, ...hooks } = params;
  const etag = createHash('sha256').update(data).digest('hex');
  return uploadBlob({ conn, keys, etag, size: data.byteLength, partSize: PART, url, token: undefined, signal: new AbortController().signal, ...hooks });
}

describe('uploadBlob when the store or the lease fails mid-body', () => {
  it('ends with the lease lost instead of waiting for room that never comes', async () => {
    const data = randomBytes(6 * PART);
    const conn = await store(async () => 'ok');
    const outcome = await bounded(
      upload({
        data,
        conn,
        url: await upstream(data),
        assertLease: () => {
          throw new Error('another replica took over this fill');
        },
      }),
    );
    expect(outcome).toBe('failed: another replica took over this fill');
  });

  it('ends with a refused part PUT instead of waiting for room that never comes', async () => {
    const data = randomBytes(6 * PART);
    const conn = await store(async (index) => (index === 1 ? 'refuse' : 'ok'));
    const outcome = await bounded(upload({ data, conn, url: await upstream(data) }));
    expect(outcome).toMatch(/^failed: .*refused/);
  });

  it('ends only once the part being handed on is taken in, when a later part PUT is refused', async () => {
    const data = randomBytes(2 * PART);
    // Part 1's PUT is refused once part 0 is being handed on (its onPart still running).
    let handingOn: () => void = () => undefined;
    const handedOn = new Promise<void>((resolve) => (handingOn = resolve));
    const conn = await store(async (index) => {
      if (index === 0) return 'ok';
      await handedOn;
      return 'refuse';
    });
    const events: string[] = [];
    const outcome = await bounded(
      upload({
        data,
        conn,
        url: await upstream(data),
        onPart: async (index) => {
          events.push(`part ${index} handed on`);
          handingOn();
          await new Promise((resolve) => setTimeout(resolve, 300));
          events.push(`part ${index} taken in`);
        },
      }).finally(() => events.push('upload ended')),
    );
    expect(outcome).toMatch(/^failed: .*refused/);
    expect(events).toEqual(['part 0 handed on', 'part 0 taken in', 'upload ended']);
  });

  it('ends only once the part being handed on is taken in, when the lease is lost on a chunked body', async () => {
    const data = randomBytes(4 * PART);
    const conn = await store(async () => 'ok');
    const events: string[] = [];
    let leaseChecks = 0;
    const outcome = await bounded(
      upload({
        data,
        conn,
        url: await chunkedUpstream(data),
        // Part 0 may be PUT; the lease is found lost before part 1's PUT.
        assertLease: () => {
          if (leaseChecks++ > 0) throw new Error('another replica took over this fill');
        },
        onPart: async (index) => {
          events.push(`part ${index} handed on`);
          await new Promise((resolve) => setTimeout(resolve, 300));
          events.push(`part ${index} taken in`);
        },
      }).finally(() => events.push('upload ended')),
    );
    expect(outcome).toBe('failed: another replica took over this fill');
    expect(events).toEqual(['part 0 handed on', 'part 0 taken in', 'upload ended']);
  });
});
