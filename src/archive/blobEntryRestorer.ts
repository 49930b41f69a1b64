/**
 * The blob entries of a restore: each hashed while it is written and committed
 * only if it matches its name (restoreBlob), a blob already in the cache kept,
 * then the files waiting for it linked. A blob's commit and links (a dozen file
 * operations, each waiting on libuv's pool) run beside the next entries, a few
 * blobs at a time: a small blob is read ahead into a pooled buffer, a big one
 * streams through one ring writer (writer and hasher threads) and the next
 * entry is read once its bytes are. A hard-linked second name of a blob is a
 * copy of that blob as restored here (blobCopySource).
 */
import type { RingTarget, RingWriter } from '../cache/ringWriter.js';
import { createRingWriter } from '../cache/ringWriter.js';
import { quoteInput } from '../quoteInput.js';
import { blobCopySource, type BlobEntries } from './blobCopySource.js';
import type { ClassifiedEntry } from './classifyEntry.js';
import type { IndexedRepo } from './indexedRepos.js';
import { restoreBlob, type RestoreBlobParams, type RestoreBlobResult } from './restoreBlob.js';
import type { RestoreLinks } from './restoreLinks.js';
import { blobKey, type RestoreRun } from './restoreRun.js';
import type { TarEntry, TarReader } from './tarReader.js';

/** Blobs up to this size are read ahead into memory so their commit and links overlap the stream. */
const SMALL_BLOB_BYTES = 1024 * 1024;
/** Small blobs committing at once: bounds memory (8 MiB) and the file operations queued on libuv's pool. */
const SMALL_BLOBS_IN_FLIGHT = 8;

export type BlobEntry = Extract<ClassifiedEntry, { kind: 'blob' | 'blob-copy' }>;

export interface BlobEntryRestorer {
  /** A blob entry of a plain tar, restored or not: a later hard link may name it. */
  remember(c: Extract<ClassifiedEntry, { kind: 'blob' }>, size: number): void;
  /** Restores the entry's blob; returns once the stream may move on to the next entry. */
  restore(args: { c: BlobEntry; entry: TarEntry; indexed: IndexedRepo | undefined }): Promise<void>;
  /** Waits for every blob still committing, failed or not (before giving up on a failed stream). */
  settle(): Promise<void>;
  /** Waits for every blob still committing; rejects with the first failure. */
  finish(): Promise<void>;
  /** Stops the ring's threads, if a big blob started them. */
  closeRing(): Promise<void>;
}

export function createBlobEntryRestorer(params: { run: RestoreRun; links: RestoreLinks; reader: TarReader; onProgress: () => void }): BlobEntryRestorer {
  const { run, links, reader } = params;
  const { report } = run;
  const prepared = new Map<string, number | undefined>();
  /** Writer and hasher threads for big blobs: started at the first, pointed at each next one, stopped at the end. */
  let ring: RingWriter | undefined;
  const ringFor = async (target: RingTarget): Promise<RingWriter> => {
    if (!ring) ring = createRingWriter(target);
    else await ring.reopen(target);
    return ring;
  };
  const blobEntries: BlobEntries = new Map();
  /** Buffers for small blobs in flight, reused (at most SMALL_BLOBS_IN_FLIGHT + 1 are ever made). */
  const smallBuffers: Buffer[] = [];
  /** Small blobs being committed and linked while the stream moves on (key -> its task). */
  const inFlight = new Map<string, Promise<void>>();

  const settleBlob = async (args: { folder: string; etag: string; name: string; size: number; result: RestoreBlobResult }): Promise<void> => {
    const { folder, etag, name, size, result } = args;
    const key = blobKey(folder, etag);
    if (result.status === 'mismatch') {
      const users = (links.pending.get(key) ?? []).map((l) => `${l.commit.slice(0, 12)}/${l.path}`);
      return run.refuseBlob(
        key,
        'hash-mismatch',
        name,
        `${quoteInput(name, 200)}: its content hashes to ${result.digest.slice(0, 16)}…, not its name; refused${users.length > 0 ? ` (file${users.length > 1 ? 's' : ''} not restored: ${users.join(', ')})` : ''}`,
      );
    }
    if (result.status === 'present') report.blobs.present += 1;
    else {
      report.blobs.written += 1;
      report.blobs.bytesWritten += size;
    }
    run.touched.add(folder);
    run.available.set(key, size);
    await links.flush(folder, etag, size);
  };

  const restore = async ({ c, entry, indexed }: { c: BlobEntry; entry: TarEntry; indexed: IndexedRepo | undefined }): Promise<void> => {
    const key = blobKey(c.folder, c.etag);
    const expected = indexed?.blobs.get(c.etag);
    if (indexed && expected === undefined) return run.problem('not-in-index', entry.name, `${quoteInput(entry.name, 200)}: this blob is not listed in the archive's index`);
    if (expected !== undefined && expected !== entry.size) {
      return run.refuseBlob(key, 'size-mismatch', entry.name, `${quoteInput(entry.name, 200)}: holds ${entry.size} bytes, the index says ${expected}; refused`);
    }
    if (run.available.has(key) || run.refusedBlobs.has(key) || inFlight.has(key)) {
      report.skipped += 1;
      return;
    }
    const restoreContent = (args: { size: number; content: RestoreBlobParams['content']; ring?: RestoreBlobParams['ring']; onContentDone?: () => void }): Promise<void> =>
      restoreBlob({
        cacheDir: run.cacheDir,
        ...c.repo,
        etag: c.etag,
        mtime: entry.mtime,
        atime: entry.atime,
        ...args,
        prepared,
        dryRun: run.dryRun,
        onBytes: params.onProgress,
        onWaitingLock: (info) => run.onWarning?.(`${entry.name}: waiting ${Math.round(info.waitedMs / 1000)} s for the lock held by ${info.holders.map((h) => `pid ${h.pid}`).join(', ') || 'another process'}`),
      }).then((result) => settleBlob({ folder: c.folder, etag: c.etag, name: entry.name, size: args.size, result }));
    const inBackground = async (task: Promise<void>, streamDone: Promise<void>): Promise<void> => {
      const tracked = task.finally(() => inFlight.delete(key));
      // Its failure surfaces where the tasks are awaited (here, below or at the end), not as an unhandled rejection.
      tracked.catch(() => undefined);
      inFlight.set(key, tracked);
      // A cut stream fails the task before its bytes are all read: that surfaces here, naming the entry.
      await Promise.race([streamDone, tracked]);
      if (inFlight.size >= SMALL_BLOBS_IN_FLIGHT) await Promise.race(inFlight.values());
    };
    if (c.kind === 'blob-copy') {
      // A second name of a blob (a hard link in a tar of a deduplicated cache): a copy of that
      // blob as restored here, hashed again while it is written.
      const source = await blobCopySource({ entry: c, blobEntries, inFlight, available: run.available, keyOf: blobKey, cacheDir: run.cacheDir, selected: run.selected });
      if ('refused' in source) return run.refuseBlob(key, 'hard-link', entry.name, `${quoteInput(entry.name, 200)}: ${source.refused}`);
      if (run.dryRun) return settleBlob({ folder: c.folder, etag: c.etag, name: entry.name, size: source.size, result: { status: 'verified' } });
      return inBackground(restoreContent({ size: source.size, content: source.content }), Promise.resolve());
    }
    const size = entry.size;
    if (run.dryRun) return restoreContent({ size, content: (onChunk) => reader.readContent(onChunk) });
    if (size > SMALL_BLOB_BYTES) {
      // A big blob: streamed through the ring; the next entry is read once its bytes are.
      let contentDone = (): void => undefined;
      const streamDone = new Promise<void>((resolve) => (contentDone = resolve));
      const task = restoreContent({ size, content: (onChunk) => reader.readContent(onChunk), ring: { fill: (target) => reader.readContentInto(target), ringFor }, onContentDone: contentDone });
      return inBackground(task, streamDone);
    }
    // A small blob: read now into a buffer of the pool (fresh memory per blob cost more in page faults than the copy).
    const buffer = smallBuffers.pop() ?? Buffer.allocUnsafeSlow(SMALL_BLOB_BYTES);
    const bytes = buffer.subarray(0, size);
    try {
      await reader.readContentFully(bytes);
    } catch (err) {
      smallBuffers.push(buffer);
      throw err;
    }
    return inBackground(
      restoreContent({ size, content: async (onChunk) => onChunk(bytes) }).finally(() => smallBuffers.push(buffer)),
      Promise.resolve(),
    );
  };

  return {
    remember: (c, size) => void blobEntries.set(c.name, { folder: c.folder, repo: c.repo, etag: c.etag, prefix: c.prefix, size }),
    restore,
    settle: async () => void (await Promise.allSettled(inFlight.values())),
    finish: async () => void (await Promise.all(inFlight.values())),
    closeRing: async () => ring?.close(),
  };
}
