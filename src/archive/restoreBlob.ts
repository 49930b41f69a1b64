/**
 * One blob from an archive into the cache, the way a download commits one:
 * under the blob's etag lock, a blob already there with the right size is
 * kept (its archive bytes are skipped); otherwise the bytes go to a partial
 * (`blobs/<etag>.<hex>.incomplete`, the downloads' own naming, so gc and a
 * later download treat it as theirs) while they are hashed, and the partial is
 * renamed into blobs/ only if the hash equals the blob's name (fetchBlob's
 * commitBlob). Linking is the caller's next step, through fetchBlob.
 *
 * A big blob's bytes go through the download path's ring writer: read by the
 * caller straight into its slots, written by one thread and hashed by another,
 * so reading, writing and sha256 run on different cores (hashed here, sha256
 * alone runs at about the speed `tar xf` writes). Small blobs are hashed here
 * while their one write runs on libuv's pool.
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
import type { RingTarget, RingWriter } from '../cache/ringWriter.js';

export interface RestoreBlobParams extends RepoRef {
  cacheDir: string;
  etag: string;
  size: number;
  /** Seconds since the epoch, put back on the blob (what `ls` shows as modified and accessed). */
  mtime: number;
  atime: number | undefined;
  /** Hands the blob's bytes, in order, to `onChunk` (the tar entry's content, or a buffer read ahead). */
  content: (onChunk: (chunk: Buffer) => Promise<void> | void) => Promise<void>;
  /**
   * For a big blob: the same bytes, pulled (fills the buffer's start, returns how many; throws on a
   * cut stream), and the ring to write and hash them with, pointed at the partial. Without them,
   * or in a dry run, `content` is used.
   */
  ring?: { fill: (target: Buffer) => Promise<number>; ringFor: (target: RingTarget) => Promise<RingWriter> };
  /**
   * Called once the blob's bytes are all read from `content`/`ring.fill` (or will not be: the blob is
   * here already) and the ring is free again, before the commit: the caller may move on to the
   * next entry while the commit and links finish. Not called when restoreBlob fails first.
   */
  onContentDone?: () => void;
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
    if (await isFileOfSize({ path: blobPath, size: params.size })) {
      // Its bytes in the archive are skipped by the reader's next entry.
      params.onContentDone?.();
      return { status: 'present' };
    }
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
    try {
      let digest: string;
      if (params.ring) {
        // The ring's writer thread opens the partial by name.
        await handle.close();
        digest = await writeThroughRing({ ...params.ring, partialPath, algorithm, size: params.size, onBytes: params.onBytes });
      } else {
        const hasher = createStreamingHasher({ algorithm, size: params.size });
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
        digest = hasher.digest();
      }
      params.onContentDone?.();
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

/**
 * A blob's bytes through the ring: each free slot is filled from the archive and handed to the
 * writer and hasher threads; the digest once every slot has been written and hashed. Every
 * submitted slot has settled when this returns or throws, so the ring is free for the next file
 * and no write can land in the partial after the caller removes it.
 */
async function writeThroughRing(args: {
  fill: (target: Buffer) => Promise<number>;
  ringFor: (target: RingTarget) => Promise<RingWriter>;
  partialPath: string;
  algorithm: NonNullable<ReturnType<typeof hashAlgorithmForBlobName>>;
  size: number;
  onBytes: ((n: number) => void) | undefined;
}): Promise<string> {
  const ring = await args.ringFor({ path: args.partialPath, prefixBytes: 0, algorithm: args.algorithm, size: args.size });
  const pending = new Set<Promise<void>>();
  let failure: unknown;
  try {
    let position = 0;
    while (position < args.size) {
      if (failure) throw failure;
      const slot = await ring.acquire();
      const want = Math.min(slot.buffer.length, args.size - position);
      let filled = 0;
      try {
        while (filled < want) {
          const n = await args.fill(slot.buffer.subarray(filled, want));
          if (n === 0) throw new Error(`restoreBlob: the blob's bytes ended ${args.size - position - filled} bytes early`);
          filled += n;
        }
      } catch (err) {
        ring.giveBack(slot);
        throw err;
      }
      const tracked: Promise<void> = ring
        .submit(slot, filled, position)
        .catch((err: unknown) => {
          failure ??= err;
        })
        .finally(() => pending.delete(tracked));
      pending.add(tracked);
      position += filled;
      args.onBytes?.(filled);
    }
  } finally {
    await Promise.all(pending);
  }
  if (failure) throw failure;
  const digest = await ring.finish();
  if (digest === undefined) throw new Error('restoreBlob: the ring did not hash');
  return digest;
}
