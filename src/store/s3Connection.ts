/**
 * One S3 client for a store, opened with the checks that turn a wrong setting into a clear error
 * before the first request needs it: the bucket exists and these credentials may use it, the
 * endpoint answers. Then a probe of whether the store honours `If-None-Match: *` on PutObject
 * (AWS S3 since 2024, Ceph RGW, MinIO; not every store): the lease and the small-blob write use it
 * to save work, and nothing depends on it for correctness, so a store without it is only noted.
 */
import { randomBytes } from 'node:crypto';
import { DeleteObjectCommand, HeadBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { S3Settings } from '../config.js';
import { HubcacheError } from '../errors.js';
import type { S3Location } from './s3Location.js';

export interface S3Connection {
  client: S3Client;
  bucket: string;
  prefix: string;
  /** The store answered 412 to a second `If-None-Match: *` PutObject of one key. */
  conditionalWrites: boolean;
  /** For messages: `s3://bucket/prefix` and the endpoint. */
  describe: string;
}

export function createS3Client(params: { settings: S3Settings }): S3Client {
  const { settings } = params;
  // The SDK warns on every start that its releases after January 2027 need Node 22: hubcache pins a
  // major that supports Node 20 (its engines), so the warning asks users for nothing they can do.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  return new S3Client({
    region: settings.region,
    forcePathStyle: settings.forcePathStyle,
    ...(settings.endpoint !== undefined ? { endpoint: settings.endpoint } : {}),
    // Checksums only where S3 requires them: the SDK's default trailing CRC (aws-chunked bodies)
    // is refused by stores older than 2025 (Ceph RGW 16-18), and every blob is hashed by us anyway.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 3,
  });
}

export async function openS3Connection(params: {
  location: S3Location;
  settings: S3Settings;
  client?: S3Client;
  /** Default true. False for read-only commands (ls, verify), which must not write a probe object. */
  probe?: boolean;
}): Promise<S3Connection> {
  const { location, settings } = params;
  const client = params.client ?? createS3Client({ settings });
  const describe = `s3://${location.bucket}${location.prefix ? `/${location.prefix.replace(/\/$/, '')}` : ''} at ${settings.endpoint ?? `AWS ${settings.region}`}`;
  try {
    await client.send(new HeadBucketCommand({ Bucket: location.bucket }));
  } catch (err) {
    throw s3Failure({ err, what: `open the store ${describe}` });
  }
  if (params.probe === false) return { client, bucket: location.bucket, prefix: location.prefix, conditionalWrites: false, describe };
  const probeKey = `${location.prefix}probe/${randomBytes(8).toString('hex')}`;
  let conditionalWrites = false;
  try {
    await client.send(new PutObjectCommand({ Bucket: location.bucket, Key: probeKey, Body: Buffer.from('1'), IfNoneMatch: '*' }));
    try {
      await client.send(new PutObjectCommand({ Bucket: location.bucket, Key: probeKey, Body: Buffer.from('2'), IfNoneMatch: '*' }));
    } catch (err) {
      conditionalWrites = s3Status(err) === 412;
      if (!conditionalWrites) throw err;
    }
  } catch (err) {
    throw s3Failure({ err, what: `write to the store ${describe}` });
  } finally {
    await client.send(new DeleteObjectCommand({ Bucket: location.bucket, Key: probeKey })).catch(() => undefined);
  }
  return { client, bucket: location.bucket, prefix: location.prefix, conditionalWrites, describe };
}

/** The HTTP status of an S3 error (undefined for a network failure). */
/** An ETag without the quotes S3 puts around it. */
export function unquote(etag: string | undefined): string {
  return (etag ?? '').replace(/^"+|"+$/g, '');
}

export function s3Status(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
}

export function isS3NotFound(err: unknown): boolean {
  const name = (err as { name?: string } | undefined)?.name;
  return s3Status(err) === 404 || name === 'NoSuchKey' || name === 'NotFound';
}

/** An S3 failure as a HubcacheError that says which setting to look at. */
export function s3Failure(params: { err: unknown; what: string }): HubcacheError {
  const { err, what } = params;
  const e = err as { name?: string; code?: string; message?: string } | undefined;
  const status = s3Status(err);
  const name = e?.name ?? '';
  const code = e?.code ?? '';
  let reason: string;
  let hint: string;
  if (name === 'CredentialsProviderError' || /credential/i.test(e?.message ?? '') && status === undefined) {
    reason = 'no AWS credentials were found';
    hint = 'Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE with ~/.aws/credentials).';
  } else if (status === 404 || name === 'NoSuchBucket' || name === 'NotFound') {
    reason = 'the bucket does not exist';
    hint = 'Create it first (aws s3 mb s3://BUCKET, or radosgw-admin / the console), or fix the name in --store.';
  } else if (status === 403 || name === 'AccessDenied' || name === 'InvalidAccessKeyId' || name === 'SignatureDoesNotMatch') {
    reason = `access denied (${name || status})`;
    hint = 'Check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY and that this user may read and write the bucket.';
  } else if (status === undefined && /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ECONNRESET|socket|timeout/i.test(`${code} ${name} ${e?.message ?? ''}`)) {
    reason = `the endpoint cannot be reached (${code || name || e?.message})`;
    hint = 'Check AWS_ENDPOINT_URL (e.g. http://10.0.0.5:7480 for a Ceph RGW) and that the store is up.';
  } else {
    reason = `${name || 'error'}${status ? ` (HTTP ${status})` : ''}: ${(e?.message ?? String(err)).slice(0, 200)}`;
    hint = 'Check the store settings: AWS_ENDPOINT_URL, AWS_REGION, AWS_S3_FORCE_PATH_STYLE.';
  }
  return new HubcacheError({ code: 'E_STORE', message: `Cannot ${what}: ${reason}`, hint, cause: err, data: { status: status ?? null } });
}
