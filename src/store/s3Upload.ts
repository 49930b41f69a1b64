/**
 * The filling replica's work: upstream bytes -> the store, hashed on the way, visible as a blob
 * only once verified.
 *
 * Upstream is read by the raw socket reader straight into the part buffers (upstreamParts), or by
 * node:http when the body has no Content-Length. A blob up to one part is read whole, hashed, and
 * written with one PutObject (`If-None-Match: *`: a second writer of the same verified bytes is
 * refused and that is fine). A larger one lands as
 * part objects `fills/.../part-<n>` cut at fixed offsets, so followers on other replicas can read
 * each part the moment it lands; when all are in and the hash is the name, the parts are assembled
 * server-side (UploadPartCopy, each copy's ETag checked against the part we hashed) into one
 * multipart upload, and only its Complete makes `blobs/<algo>/<etag>` exist. A mismatch aborts the
 * upload and deletes the parts. A takeover resumes: the parts already in the store are re-read and
 * hashed (store traffic, not upstream), and upstream is asked from the first missing part on.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { hashAlgorithmForBlobName } from '../cache/etag.js';
import { createStreamingHasher, type StreamingHasher } from '../cache/hashFile.js';
import { HubcacheError } from '../errors.js';
import { headerValue, hubRequest, networkError } from '../hub/hubRequest.js';
import { rawHttpGet } from '../hub/rawHttpGet.js';
import { hubErrorFromResponse } from '../hub/hubErrorFromResponse.js';
import { isS3NotFound, s3Status, unquote, type S3Connection } from './s3Connection.js';
import type { S3Keys } from './s3Keys.js';
import { partCount, partLength } from './partLength.js';
import { UpstreamParts } from './upstreamParts.js';

export interface UploadBlobParams {
  conn: S3Connection;
  keys: S3Keys;
  etag: string;
  size: number;
  partSize: number;
  url: string;
  token: string | undefined;
  signal: AbortSignal;
  stallTimeoutMs?: number;
  /** Upstream answered with bytes on the way (the route may now answer 200). */
  onStarted?: () => void;
  onReceived?: (bytes: number) => void;
  /** Part `index` is in the store; `data` is its bytes, valid only until the returned promise settles (the buffer is reused). */
  onPart?: (index: number, data: Uint8Array) => void | Promise<void>;
  /** Throws when this replica no longer holds the lease (someone took over). */
  assertLease?: () => void;
}

export async function uploadBlob(params: UploadBlobParams): Promise<void> {
  const { conn, keys, etag, size, partSize } = params;
  const algorithm = hashAlgorithmForBlobName({ name: etag });
  if (algorithm === undefined) throw new HubcacheError({ code: 'E_INTERNAL', message: `not a content hash: ${etag}` });
  const hasher = createStreamingHasher({ algorithm, size });
  const small = size <= partSize;
  const parts = small ? 0 : partCount({ size, partSize });
  const partEtags: string[] = [];
  // A takeover: hash the parts a previous filler left (contiguous from the start, right sizes).
  let resumed = 0;
  if (!small) {
    const present = await listParts({ conn, keys, etag });
    while (resumed < parts && present.get(resumed) === partLength({ size, partSize, index: resumed })) {
      const stored = await hashStoredPart({ conn, key: keys.part(etag, resumed), hasher, signal: params.signal });
      if (stored === undefined) break;
      partEtags[resumed] = stored.etag;
      await params.onPart?.(resumed, stored.data);
      resumed += 1;
    }
  }
  const offset = resumed * partSize;
  let whole: Buffer | undefined;
  if (offset < size || size === 0) {
    whole = await streamUpstream({ ...params, offset, hasher, small, partEtags });
  } else {
    params.onStarted?.();
  }
  const digest = hasher.digest();
  if (digest !== etag) {
    if (!small) await deleteParts({ conn, keys, etag, parts });
    throw new HubcacheError({
      code: 'E_INTEGRITY',
      message: `Upstream sent bytes whose ${algorithm} is ${digest}, not ${etag}: not stored`,
      data: { etag, digest },
    });
  }
  params.assertLease?.();
  if (small) {
    await putBlobObject({ conn, key: keys.blob(etag), body: whole ?? Buffer.alloc(0) });
    return;
  }
  await assemble({ conn, keys, etag, size, parts, partEtags });
  await deleteParts({ conn, keys, etag, parts });
}

async function streamUpstream(
  params: UploadBlobParams & { offset: number; hasher: StreamingHasher; small: boolean; partEtags: string[] },
): Promise<Buffer | undefined> {
  const { etag, size, offset } = params;
  const what = `fill blob ${etag}`;
  const headers = { 'accept-encoding': 'identity', ...(offset > 0 ? { range: `bytes=${offset}-` } : {}) };
  const bodyTimeoutMs = params.stallTimeoutMs ?? 60_000;
  let url = params.url;
  let token = params.token;
  // The raw socket reader lands the body straight in the part buffers (see rawHttpGet and
  // upstreamParts); node:http takes what it hands back (another scheme, a chunked body).
  const raw = await rawHttpGet({ url, token, headers, signal: params.signal, bodyTimeoutMs, what });
  if (raw.response !== undefined && (raw.response.contentLength !== undefined || raw.response.status >= 300)) {
    const response = raw.response;
    const skip = checkAnswer({ ...params, status: response.status, url: response.url, headers: response.headers, close: () => response.close() });
    if (response.contentLength !== size - offset + skip) {
      response.close();
      throw new HubcacheError({ code: 'E_HTTP', message: `Cannot ${what}: upstream announced ${response.contentLength} bytes, expected ${size - offset + skip}` });
    }
    params.onStarted?.();
    // After a failure (a PUT, the lease) there is never room again: the reader would wait for it
    // forever with its socket paused, so the body is given up and `end` throws the failure.
    const parts = new UpstreamParts({ ...params, skip, onRoom: () => (parts.failure === undefined ? response.wake() : response.close()) });
    try {
      await response.receive({
        space: () => parts.space(),
        commit: (n) => {
          params.onReceived?.(n);
          parts.commit(n);
        },
      });
    } catch (err) {
      parts.fail(networkError({ err, url: response.url, what }) as Error);
    }
    return finishParts(parts, etag, size);
  }
  raw.response?.close();
  if (raw.handOff !== undefined) {
    // A hop to another scheme leaves the origin: the token stays behind, as on any other-host redirect.
    url = raw.handOff;
    token = undefined;
  }
  const response = await hubRequest({ method: 'GET', url, token, headers, redirects: 'all', signal: params.signal, bodyTimeoutMs, what });
  const skip = checkAnswer({ ...params, status: response.status, url: response.url, headers: response.headers, close: () => void response.body.dump().catch(() => undefined) });
  params.onStarted?.();
  const parts = new UpstreamParts({ ...params, skip });
  try {
    for await (const chunk of response.body) {
      params.onReceived?.(chunk.byteLength);
      await parts.write(chunk);
    }
  } catch (err) {
    // Through `end`, as on the raw way in: the upload ends only once the parts being PUT or handed
    // on have settled, never while the fill is still taking one in.
    parts.fail(err as Error);
  }
  return finishParts(parts, etag, size);
}

/**
 * Throws unless upstream answered the GET (from `offset`) with its bytes; how many leading bytes
 * to skip (a 200 to our Range carries the whole file, and the stored parts already hold those).
 */
function checkAnswer(params: UploadBlobParams & { offset: number; status: number; url: string; headers: Record<string, string | string[] | undefined>; close: () => void }): number {
  const { status, offset, etag } = params;
  if (status !== 200 && status !== 206) {
    params.close();
    throw hubErrorFromResponse({ status, url: params.url, headers: params.headers, what: `fill blob ${etag}`, hasToken: Boolean(params.token) });
  }
  if (status === 206 && !headerValue(params.headers, 'content-range')?.startsWith(`bytes ${offset}-`)) {
    params.close();
    throw new HubcacheError({ code: 'E_HTTP', message: `Upstream answered a Range from ${offset} with another range` });
  }
  return status === 200 ? offset : 0;
}

async function finishParts(parts: UpstreamParts, etag: string, size: number): Promise<Buffer | undefined> {
  const whole = await parts.end();
  if (parts.position !== size) {
    throw new HubcacheError({ code: 'E_NETWORK', message: `Upstream ended ${etag} after ${parts.position} of ${size} bytes`, data: { failure: 'short-body' } });
  }
  return whole;
}

async function assemble(params: { conn: S3Connection; keys: S3Keys; etag: string; size: number; parts: number; partEtags: string[] }): Promise<void> {
  const { conn, keys, etag, size, parts, partEtags } = params;
  const Bucket = conn.bucket;
  const Key = keys.blob(etag);
  // Already complete (another filler won the race with the same verified bytes). An object of
  // another size there is damaged: the Complete below replaces it.
  if ((await storedSize({ conn, key: Key })) === size) return;
  const upload = await conn.client.send(new CreateMultipartUploadCommand({ Bucket, Key, ContentType: 'application/octet-stream' }));
  const UploadId = upload.UploadId!;
  try {
    const copied: string[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < parts) {
        const index = next++;
        const result = await conn.client.send(
          new UploadPartCopyCommand({ Bucket, Key, UploadId, PartNumber: index + 1, CopySource: `${Bucket}/${encodeKey(keys.part(etag, index))}` }),
        );
        const copiedEtag = unquote(result.CopyPartResult?.ETag);
        // The copy must be the bytes we hashed (a part rewritten meanwhile by a dishonest upstream's
        // second filler would differ): an MD5 ETag of the part on both sides.
        if (copiedEtag !== partEtags[index]) {
          throw new HubcacheError({ code: 'E_INTEGRITY', message: `Part ${index + 1} of ${etag} changed while it was assembled`, data: { etag } });
        }
        copied[index] = result.CopyPartResult!.ETag!;
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    await conn.client.send(
      new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: copied.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) } }),
    );
  } catch (err) {
    await conn.client.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId })).catch(() => undefined);
    throw err;
  }
}

/**
 * Writes a blob object in one PUT from bytes whose hash was checked (`If-None-Match: *` where
 * honoured). Refused because an object stands there: the same verified bytes from another writer,
 * or a damaged object of another size (readers would be served its bytes), replaced by ours then.
 */
export async function putBlobObject(params: { conn: S3Connection; key: string; body: Buffer }): Promise<void> {
  const { conn, key, body } = params;
  const put = (conditional: boolean) => conn.client.send(new PutObjectCommand({ Bucket: conn.bucket, Key: key, Body: body, ...(conditional ? { IfNoneMatch: '*' } : {}) }));
  try {
    await put(conn.conditionalWrites);
  } catch (err) {
    if (s3Status(err) !== 412) throw err;
    if ((await storedSize({ conn, key })) !== body.byteLength) await put(false);
  }
}

/** The size of the object at `key`, or undefined when there is none. */
async function storedSize(params: { conn: S3Connection; key: string }): Promise<number | undefined> {
  try {
    return (await params.conn.client.send(new HeadObjectCommand({ Bucket: params.conn.bucket, Key: params.key }))).ContentLength;
  } catch (err) {
    if (isS3NotFound(err)) return undefined;
    throw err;
  }
}

/** Part index -> size of the parts in the store now. */
async function listParts(params: { conn: S3Connection; keys: S3Keys; etag: string }): Promise<Map<number, number>> {
  const { conn, keys, etag } = params;
  const found = new Map<number, number>();
  let ContinuationToken: string | undefined;
  do {
    const page = await conn.client.send(new ListObjectsV2Command({ Bucket: conn.bucket, Prefix: `${keys.fillPrefix(etag)}part-`, ContinuationToken }));
    for (const object of page.Contents ?? []) {
      const index = /part-(\d+)$/.exec(object.Key ?? '')?.[1];
      if (index !== undefined) found.set(Number(index), object.Size ?? -1);
    }
    ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (ContinuationToken);
  return found;
}

/** Feeds a stored part to the hasher; its ETag and bytes, or undefined when it vanished. */
async function hashStoredPart(params: { conn: S3Connection; key: string; hasher: StreamingHasher; signal: AbortSignal }): Promise<{ etag: string; data: Buffer } | undefined> {
  let got;
  try {
    got = await params.conn.client.send(new GetObjectCommand({ Bucket: params.conn.bucket, Key: params.key }), { abortSignal: params.signal });
  } catch (err) {
    if (isS3NotFound(err)) return undefined;
    throw err;
  }
  const chunks: Uint8Array[] = [];
  for await (const chunk of got.Body as AsyncIterable<Uint8Array>) {
    params.hasher.update(chunk);
    chunks.push(chunk);
  }
  return { etag: unquote(got.ETag), data: Buffer.concat(chunks) };
}

export async function deleteParts(params: { conn: S3Connection; keys: S3Keys; etag: string; parts: number }): Promise<void> {
  const { conn, keys, etag } = params;
  const present = await listParts({ conn, keys, etag }).catch(() => new Map<number, number>());
  await Promise.all([...present.keys()].map((index) => conn.client.send(new DeleteObjectCommand({ Bucket: conn.bucket, Key: keys.part(etag, index) })).catch(() => undefined)));
}

/** CopySource is `bucket/key` with the key URL-encoded except its slashes. */
function encodeKey(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}
