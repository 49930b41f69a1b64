/**
 * One part object of a fill (`fills/.../part-<n>`), written by the filling replica and checked by
 * followers that got the same bytes from it directly (s3FillDriver).
 *
 * The part's sha256 is computed once (by the caller while the bytes arrived, or here) and used twice: as the request's signed payload hash
 * (`x-amz-content-sha256`, which the SDK would otherwise compute itself, and which the store checks
 * the body against), and as the object's metadata, so a follower checks a part from the peer with
 * one sha256 instead of an MD5 against the ETag (MD5 costs 2.5 times the CPU of sha256 on CPUs with
 * SHA extensions). A part object without the metadata (written by an older replica) is checked by
 * its ETag, the MD5 of a single PUT's body.
 */
import { createHash } from 'node:crypto';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { S3Connection } from './s3Connection.js';

/** The metadata name (sent as `x-amz-meta-hubcache-sha256`). */
export const PART_SHA256_META = 'hubcache-sha256';

/**
 * Writes the part; resolves to the store's ETag for it (quotes included, as the store sent it).
 * `sha256` is the body's, when the caller hashed it already (the store refuses a wrong one).
 */
export async function putPartObject(params: { conn: S3Connection; key: string; body: Buffer; sha256?: string }): Promise<string | undefined> {
  const { conn, key, body } = params;
  const sha256 = params.sha256 ?? createHash('sha256').update(body).digest('hex');
  const command = new PutObjectCommand({ Bucket: conn.bucket, Key: key, Body: body, Metadata: { [PART_SHA256_META]: sha256 } });
  command.middlewareStack.add(
    (next) => (args) => {
      const request = args.request as { headers?: Record<string, string> };
      if (request.headers) request.headers['x-amz-content-sha256'] = sha256;
      return next(args);
    },
    { step: 'build', name: 'hubcachePartPayloadSha256' },
  );
  return (await conn.client.send(command)).ETag;
}

/** Whether `data` is the part whose HEAD gave `stored` (its sha256 metadata, else its MD5 ETag). */
export function partMatches(params: { data: Uint8Array; stored: { metadata?: Record<string, string> | undefined; etag: string } }): { ok: boolean; detail: string } {
  const expected = params.stored.metadata?.[PART_SHA256_META];
  if (expected !== undefined) {
    const sha256 = createHash('sha256').update(params.data).digest('hex');
    return { ok: sha256 === expected, detail: `sha256 ${sha256}, the stored part's is ${expected}` };
  }
  const md5 = createHash('md5').update(params.data).digest('hex');
  return { ok: md5 === params.stored.etag, detail: `MD5 ${md5} is not the stored part's ETag ${params.stored.etag}` };
}
