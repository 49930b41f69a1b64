/**
 * One blob from an archive into the cache, the way a download commits one:
 * under the blob's etag lock, a blob already there with the right size is
 * kept (its archive bytes are skipped); otherwise the bytes go to a partial
 * (`blobs/<etag>.<hex>.incomplete`, the downloads' own naming, so gc and a
 * later download treat it as theirs) while they are hashed, and the partial is
 * renamed into blobs/ only if the hash equals the blob's name (fetchBlob's
 * commitBlob). Linking is the caller's next step, through fetchBlob.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, unlink, utimes } from 'node:fs/promises';
import { fromSystemError } from '../errors.js';
import { hashAlgorithmForBlobName } from '../cache/etag.js';
import { ensureCachedirTag } from '../cache/ensureCachedirTag.js';
import { createStreamingHasher } from '../cache/hashFile.js';
import { acquireLock } from '../cache/lock.js';
import type { LockHolder } from '../cache/lockHolders.js';
import type { RepoRef } from '../cache/repoId.js';
import { repoPaths } from '../cache/repoPaths.js';
import { commitBlob, isFileOfSize } from '../download/fetchBlob.js';
import { freshFileMode } from '../cache/freshFileMode.js';

export interface RestoreBlobParams extends RepoRef {
  cacheDir: string;
  etag: string;
  size: number;
  /** Seconds since the epoch, put back on the blob (what `ls` shows as modified and accessed). */
  mtime: number;
  atime: number | undefined;
  /** Hands the blob's bytes, in order, to `onChunk` (the tar entry's content, or a buffer read ahead). */
  content: (onChunk: (chunk: Buffer) => Promise<void> | void) => Promise<void>;
  /** Folders made, CACHEDIR.TAG written and blobs/ modes measured earlier in this restore (blobs dir -> mode). */
  prepared: Map<string, number | undefined>;
  /** Hash the bytes, write nothing. */
  dryRun: boolean;
  onBytes?: (n: number) => void;
  onWaitingLock?: (info: { holders: LockHolder[]; waitedMs: number }) => void;
}

export type RestoreBlobResult =
  | { status: 'present' }
  | { status: 'written' | 'verified' }
  | { status: 'mismatch'; digest: string };

export async function restoreBlob(params: RestoreBlobParams): Promise<RestoreBlobResult> {
  const paths = repoPaths(params);
  const blobPath = paths.blob(params.etag);
  const algorithm = hashAlgorithmForBlobName({ name: params.etag });
  if (!algorithm) throw new Error(`restoreBlob: ${params.etag} is not hash-named`); // classifyEntry refuses these first
  if (params.dryRun) {
    if (await isFileOfSize({ path: blobPath, size: params.size })) return { status: 'present' };
    const hasher = createStreamingHasher({ algorithm, size: params.size });
    await params.content((chunk) => {
      hasher.update(chunk);
      params.onBytes?.(chunk.length);
    });
    const digest = hasher.digest();
    return digest === params.etag ? { status: 'verified' } : { status: 'mismatch', digest };
  }
  if (!params.prepared.has(paths.blobsDir)) {
    try {
      await mkdir(paths.blobsDir, { recursive: true });
      await ensureCachedirTag({ cacheDir: params.cacheDir });
    } catch (err) {
      throw fromSystemError({ err, path: paths.blobsDir, action: 'prepare the cache for a restored blob' });
    }
    params.prepared.set(paths.blobsDir, await freshFileMode({ dir: paths.blobsDir }));
  }
  const lock = await acquireLock({ path: paths.lock(params.etag), onWait: (info) => params.onWaitingLock?.(info) });
  try {
    if (await isFileOfSize({ path: blobPath, size: params.size })) return { status: 'present' };
    const partialPath = `${blobPath}.${randomBytes(4).toString('hex')}.incomplete`;
    let handle;
    try {
      handle = await open(partialPath, 'wx', 0o644).catch(async (err: NodeJS.ErrnoException) => {
        // A cleanup of empty folders took blobs/ since we made it: make it again, once.
        if (err.code !== 'ENOENT') throw err;
        await mkdir(paths.blobsDir, { recursive: true });
        return open(partialPath, 'wx', 0o644);
      });
    } catch (err) {
      throw fromSystemError({ err, path: partialPath, action: 'create a partial blob' });
    }
    const hasher = createStreamingHasher({ algorithm, size: params.size });
    try {
      try {
        await params.content(async (chunk) => {
          // The write runs on libuv's pool while this thread hashes the same bytes.
          const written = writeAll(handle, chunk);
          hasher.update(chunk);
          await written;
          params.onBytes?.(chunk.length);
        });
      } finally {
        await handle.close();
      }
      const digest = hasher.digest();
      if (digest !== params.etag) {
        await unlink(partialPath).catch(() => undefined);
        return { status: 'mismatch', digest };
      }
      // +0.5 µs: a time of whole milliseconds must not come back a hair under them (double -> timespec truncates).
      await utimes(partialPath, (params.atime ?? params.mtime) + 5e-7, params.mtime + 5e-7).catch(() => undefined);
      await commitBlob({ partialPath, blobPath, mode: params.prepared.get(paths.blobsDir) });
      return { status: 'written' };
    } catch (err) {
      await unlink(partialPath).catch(() => undefined);
      throw fromSystemError({ err, path: blobPath, action: 'restore a blob' });
    }
  } finally {
    await lock.release();
  }
}

async function writeAll(handle: import('node:fs/promises').FileHandle, chunk: Buffer): Promise<void> {
  let done = 0;
  while (done < chunk.length) done += (await handle.write(chunk, done, chunk.length - done)).bytesWritten;
}
