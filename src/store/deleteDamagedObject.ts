/**
 * Removes a blob object of the shared store whose bytes were found not to hash to its key, so the
 * next request fills it again from upstream (`verify --store --fix`, and a replica whose read of a
 * stored blob failed its hash check).
 *
 * The danger is deleting a good object: between the read that found the damage and the delete, a
 * replica may have re-filled the key with verified bytes. So the delete names the object that was
 * read by its S3 ETag: a HEAD first (gone or changed: kept), then a DeleteObject with `If-Match`
 * when the store honours it (AWS S3 since 2024, newer Ceph RGW), which makes the check and the
 * delete one step. A store that ignores `If-Match` on deletes (Ceph RGW 16-18 do: probed once per
 * connection) gets the HEAD check alone, which leaves a window of one round trip; a good object
 * lost in it is only a refill from upstream, never a wrong byte served.
 * Nothing outside the store's blob keys is ever deleted.
 */
import { randomBytes } from 'node:crypto';
import { DeleteObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { HubcacheError } from '../errors.js';
import { isS3NotFound, s3Status, unquote, type S3Connection } from './s3Connection.js';
import { s3Keys } from './s3Keys.js';

export interface DeleteDamagedObjectParams {
  conn: S3Connection;
  /** A blob key of this store (`<prefix>blobs/sha256/<hex>` or `<prefix>blobs/sha1/<oid>`). */
  key: string;
  /** The S3 ETag of the object whose bytes were read and found damaged. */
  objectEtag: string;
}

/** removed; gone (nothing there any more); changed (another object stands there now: kept). */
export type DeleteDamagedObjectResult = 'removed' | 'gone' | 'changed';

export async function deleteDamagedObject(params: DeleteDamagedObjectParams): Promise<DeleteDamagedObjectResult> {
  const { conn, key } = params;
  const Bucket = conn.bucket;
  if (!key.startsWith(conn.prefix) || s3Keys({ prefix: conn.prefix }).etagOfBlobKey(key) === undefined) {
    throw new HubcacheError({ code: 'E_INTERNAL', message: `Refusing to delete ${key.slice(0, 200)}: not a blob object of ${conn.describe}` });
  }
  const objectEtag = unquote(params.objectEtag);
  let standing: string;
  try {
    standing = unquote((await conn.client.send(new HeadObjectCommand({ Bucket, Key: key }))).ETag);
  } catch (err) {
    if (isS3NotFound(err)) return 'gone';
    throw err;
  }
  if (standing !== objectEtag) return 'changed';
  const conditional = await conditionalDeletes(conn);
  try {
    await conn.client.send(new DeleteObjectCommand({ Bucket, Key: key, ...(conditional ? { IfMatch: `"${objectEtag}"` } : {}) }));
  } catch (err) {
    if (s3Status(err) === 412) return 'changed';
    if (isS3NotFound(err)) return 'gone';
    throw err;
  }
  return 'removed';
}

const probed = new WeakMap<S3Connection, Promise<boolean>>();

/** Whether the store refuses a DeleteObject whose `If-Match` names another ETag (asked once per connection). */
export function conditionalDeletes(conn: S3Connection): Promise<boolean> {
  let answer = probed.get(conn);
  if (answer === undefined) {
    answer = probeConditionalDelete(conn);
    probed.set(conn, answer);
  }
  return answer;
}

async function probeConditionalDelete(conn: S3Connection): Promise<boolean> {
  const Key = `${conn.prefix}probe/delete-${randomBytes(8).toString('hex')}`;
  await conn.client.send(new PutObjectCommand({ Bucket: conn.bucket, Key, Body: Buffer.from('1') }));
  try {
    // An ETag no object has: a store that honours If-Match refuses; one that ignores it deletes.
    await conn.client.send(new DeleteObjectCommand({ Bucket: conn.bucket, Key, IfMatch: '"00000000000000000000000000000000"' }));
    return false;
  } catch (err) {
    if (s3Status(err) === 412) return true;
    throw err;
  } finally {
    await conn.client.send(new DeleteObjectCommand({ Bucket: conn.bucket, Key })).catch(() => undefined);
  }
}
