import { AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateMultipartUploadCommand, UploadPartCommand } from '@aws-sdk/client-s3';
import { open } from 'node:fs/promises';
import { hashAlgorithmForBlobName } from '../cache/etag.js';
import { createStreamingHasher } from '../cache/hashFile.js';
import { HubcacheError } from '../errors.js';
import type { S3Connection } from './s3Connection.js';
import type { S3Keys } from './s3Keys.js';
import { partCount, partLength } from './partLength.js';
import { putBlobObject } from './s3Upload.js';

/**
 * A local blob file into the store (`push`): hashed while it is read and uploaded; one PutObject
 * up to a part, else a multipart upload whose Complete is sent only when the hash is the name
 * (aborted otherwise, so nothing of it becomes visible).
 */
export async function uploadBlobFile(params: { conn: S3Connection; keys: S3Keys; etag: string; size: number; path: string; partSize: number }): Promise<void> {
  const { conn, keys, etag, size, path, partSize } = params;
  const algorithm = hashAlgorithmForBlobName({ name: etag });
  if (algorithm === undefined) throw new HubcacheError({ code: 'E_INTERNAL', message: `not a content hash: ${etag}` });
  const hasher = createStreamingHasher({ algorithm, size });
  const mismatch = (digest: string): HubcacheError =>
    new HubcacheError({ code: 'E_INTEGRITY', message: `${path}: ${algorithm} is ${digest}, not its name ${etag}: not pushed (hubcache verify --fix repairs the cache)`, data: { etag, digest } });
  const handle = await open(path, 'r');
  const Bucket = conn.bucket;
  const Key = keys.blob(etag);
  try {
    const readPart = async (index: number): Promise<Buffer> => {
      const length = partLength({ size, partSize, index });
      const buffer = Buffer.allocUnsafe(length);
      let filled = 0;
      while (filled < length) {
        const { bytesRead } = await handle.read(buffer, filled, length - filled, index * partSize + filled);
        if (bytesRead === 0) throw new HubcacheError({ code: 'E_INTEGRITY', message: `${path} is shorter than its ${size} bytes` });
        filled += bytesRead;
      }
      hasher.update(buffer);
      return buffer;
    };
    if (size <= partSize) {
      const data = size === 0 ? Buffer.alloc(0) : await readPart(0);
      const digest = hasher.digest();
      if (digest !== etag) throw mismatch(digest);
      await putBlobObject({ conn, key: Key, body: data });
      return;
    }
    const upload = await conn.client.send(new CreateMultipartUploadCommand({ Bucket, Key, ContentType: 'application/octet-stream' }));
    const UploadId = upload.UploadId!;
    try {
      const parts: Array<{ ETag: string; PartNumber: number }> = [];
      for (let index = 0; index < partCount({ size, partSize }); index++) {
        const body = await readPart(index);
        const put = await conn.client.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: index + 1, Body: body }));
        parts.push({ ETag: put.ETag!, PartNumber: index + 1 });
      }
      const digest = hasher.digest();
      if (digest !== etag) throw mismatch(digest);
      await conn.client.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: parts } }));
    } catch (err) {
      await conn.client.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId })).catch(() => undefined);
      throw err;
    }
  } finally {
    await handle.close();
  }
}
