/**
 * The filling replica's upload (uploadBlob) on a real Ceph RGW, against the test origin: upstream
 * bytes land in part objects (each with its sha256), are handed to `onPart`, and become the blob
 * object only once the whole hash is checked. Upstream is read by the raw socket reader, or by
 * node:http when the body has no Content-Length; a takeover resumes after the stored parts, also
 * when upstream ignores the Range; a cut or changed body stores no blob.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isHubcacheError } from '../../src/errors.js';
import type { S3Connection } from '../../src/store/s3Connection.js';
import { s3Keys } from '../../src/store/s3Keys.js';
import { PART_SHA256_META, putPartObject } from '../../src/store/putPartObject.js';
import { uploadBlob } from '../../src/store/s3Upload.js';
import { cephSkipReason, startCeph, type Ceph } from '../helpers/ceph/startCeph.js';
import { createOrigin, type Origin } from '../helpers/origin/createOrigin.js';
import { linearRepo } from '../helpers/origin/fixture.js';

const MiB = 1024 * 1024;
/** RGW's smallest multipart part (all but the last). */
const PART = 5 * MiB;
const data = randomBytes(4 * PART + 2 * MiB);
const etag = createHash('sha256').update(data).digest('hex');
const keys = s3Keys({ prefix: 'm/' });
const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');
const skip = cephSkipReason();
if (skip) console.warn(`skipping the upload tests: ${skip}`);

describe.skipIf(skip !== undefined)('uploadBlob', () => {
  let ceph: Ceph;
  let origin: Origin;
  let chunked: Server;
  let bucket = 0;

  beforeAll(async () => {
    [ceph, origin] = await Promise.all([
      startCeph(),
      createOrigin({ fixture: { repos: [linearRepo({ repoId: 'acme/up', commits: [{ files: [{ path: 'w.bin', source: data }] }] })] } }),
    ]);
    // Upstream without Content-Length (chunked): not for the raw reader.
    chunked = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      for (let at = 0; at < data.length; at += 3 * MiB) res.write(data.subarray(at, at + 3 * MiB));
      res.end();
    });
    await new Promise<void>((resolve) => chunked.listen(0, '127.0.0.1', resolve));
  }, 240_000);

  afterAll(async () => {
    chunked?.close();
    await origin?.close();
    await ceph?.stop();
  }, 60_000);

  async function freshConn(): Promise<S3Connection> {
    const name = `up-${bucket++}`;
    await ceph.createBucket(name);
    return { client: ceph.client, bucket: name, prefix: 'm/', conditionalWrites: true, describe: name };
  }

  const fileUrl = (): string => `${origin.url}/acme/up/resolve/main/w.bin`;

  async function upload(conn: S3Connection, url: string): Promise<{ parts: Map<number, { sha256: string; stored: string | undefined }> }> {
    const parts = new Map<number, { sha256: string; stored: string | undefined }>();
    await uploadBlob({
      conn,
      keys,
      etag,
      size: data.length,
      partSize: PART,
      url,
      token: undefined,
      signal: new AbortController().signal,
      onPart: async (index, bytes) => {
        // The part object is in the store by now, with the sha256 of these bytes.
        const head = await conn.client.send(new HeadObjectCommand({ Bucket: conn.bucket, Key: keys.part(etag, index) }));
        parts.set(index, { sha256: sha256(bytes), stored: head.Metadata?.[PART_SHA256_META] });
      },
    });
    return { parts };
  }

  async function blobBytes(conn: S3Connection): Promise<Buffer | undefined> {
    try {
      const got = await conn.client.send(new GetObjectCommand({ Bucket: conn.bucket, Key: keys.blob(etag) }));
      return Buffer.from(await got.Body!.transformToByteArray());
    } catch {
      return undefined;
    }
  }

  async function partObjects(conn: S3Connection): Promise<string[]> {
    const listed = await conn.client.send(new ListObjectsV2Command({ Bucket: conn.bucket, Prefix: keys.fillPrefix(etag) }));
    return (listed.Contents ?? []).map((o) => o.Key!);
  }

  function expectEveryPart(parts: Map<number, { sha256: string; stored: string | undefined }>, from = 0): void {
    expect([...parts.keys()].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4].slice(from));
    for (const [index, part] of parts) {
      const expected = sha256(data.subarray(index * PART, (index + 1) * PART));
      expect(part).toEqual({ sha256: expected, stored: expected });
    }
  }

  it('lands the blob from the raw reader: every part object with its sha256, each part handed over, parts gone after', async () => {
    const conn = await freshConn();
    origin.stats.reset();
    const { parts } = await upload(conn, fileUrl());
    expectEveryPart(parts);
    expect((await blobBytes(conn))?.equals(data)).toBe(true);
    expect(await partObjects(conn)).toEqual([]);
    // One GET, whose Content-Length framed body the raw reader took whole (a hand-back to node:http would GET again).
    expect(origin.stats.requests.cdn).toBe(1);
    expect(origin.stats.bodyBytes).toBe(data.length);
  });

  it('takes a body without Content-Length through node:http, with the same result', async () => {
    const conn = await freshConn();
    const { parts } = await upload(conn, `http://127.0.0.1:${(chunked.address() as AddressInfo).port}/w.bin`);
    expectEveryPart(parts);
    expect((await blobBytes(conn))?.equals(data)).toBe(true);
  });

  it('a takeover resumes after the parts in the store, also when upstream answers its Range with the whole file', async () => {
    for (const ignoreRange of [false, true]) {
      const conn = await freshConn();
      for (const index of [0, 1]) await putPartObject({ conn, key: keys.part(etag, index), body: data.subarray(index * PART, (index + 1) * PART) });
      if (ignoreRange) origin.faults.add({ kind: 'ignoreRange', match: { path: 'w.bin' } });
      origin.stats.reset();
      const { parts } = await upload(conn, fileUrl());
      expectEveryPart(parts);
      expect((await blobBytes(conn))?.equals(data)).toBe(true);
      // Upstream was asked from the first missing part (and sent the whole file when it ignored that).
      expect(origin.stats.log.find((entry) => entry.route === 'cdn')?.range).toBe(`bytes=${2 * PART}-`);
      expect(origin.stats.bodyBytes).toBe(ignoreRange ? data.length : data.length - 2 * PART);
    }
  });

  it('a body cut short or with a changed byte stores no blob', async () => {
    for (const fault of [{ kind: 'truncate', afterBytes: 2 * PART + 1000 }, { kind: 'corrupt', afterBytes: 3 * PART + 7 }] as const) {
      const conn = await freshConn();
      origin.faults.add({ ...fault, match: { path: 'w.bin' } });
      const failed = await upload(conn, fileUrl()).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(isHubcacheError(failed, fault.kind === 'truncate' ? 'E_NETWORK' : 'E_INTEGRITY'), String(failed)).toBe(true);
      expect(await blobBytes(conn)).toBeUndefined();
    }
  });
});
