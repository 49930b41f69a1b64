/**
 * The two names the Hub gives a file's bytes: the git blob id (sha1 over
 * "blob <size>\0" + content; the oid and ETag of regular files) and the sha256
 * (the LFS oid, and the etag clients use for LFS blobs).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';

export interface BlobHashes {
  size: number;
  sha256: string;
  gitSha1: string;
}

export function hashBuffer(params: { data: Uint8Array }): BlobHashes {
  const { data } = params;
  const gitSha1 = createHash('sha1').update(`blob ${data.byteLength}\0`).update(data).digest('hex');
  const sha256 = createHash('sha256').update(data).digest('hex');
  return { size: data.byteLength, sha256, gitSha1 };
}

// Fixtures are rebuilt for every test and by setFixture; hashing a 4 GiB file
// each time would dominate. Keyed by identity + mtime so an edited file is rehashed.
const fileHashCache = new Map<string, Promise<BlobHashes>>();

/** Hashes a file by streaming it (big reads, never the whole file in memory, never blocking the loop). */
export async function hashFile(params: { path: string }): Promise<BlobHashes> {
  const info = await stat(params.path);
  if (!info.isFile()) throw new Error(`fixture source is not a regular file: ${params.path}`);
  const key = `${params.path}\0${info.dev}:${info.ino}:${info.size}:${info.mtimeMs}`;
  let pending = fileHashCache.get(key);
  if (pending === undefined) {
    pending = streamHashes({ path: params.path, size: info.size });
    fileHashCache.set(key, pending);
    pending.catch(() => fileHashCache.delete(key));
  }
  return pending;
}

async function streamHashes(params: { path: string; size: number }): Promise<BlobHashes> {
  const sha1 = createHash('sha1').update(`blob ${params.size}\0`);
  const sha256 = createHash('sha256');
  let seen = 0;
  for await (const chunk of createReadStream(params.path, { highWaterMark: 4 * 1024 * 1024 })) {
    const bytes = chunk as Buffer;
    sha1.update(bytes);
    sha256.update(bytes);
    seen += bytes.byteLength;
  }
  // The header above promised `size` bytes; a file that changed under us would
  // give a git id for content that never existed.
  if (seen !== params.size) throw new Error(`fixture source changed while hashing: ${params.path}`);
  return { size: seen, sha256: sha256.digest('hex'), gitSha1: sha1.digest('hex') };
}
