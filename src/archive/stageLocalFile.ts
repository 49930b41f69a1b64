/**
 * The first half of adopting a user's file: get its bytes next to the cache
 * and learn their hash, without touching blobs/, snapshots/ or refs/.
 *
 *   copy            read the source once, writing a temp in the cache's temp folder and hashing
 *                   what is written (the temp holds exactly the hashed bytes)
 *   link (and move) hard-link the source as a temp, then hash that inode; nothing is copied and
 *                   the source is never renamed, so a refusal or a crash leaves the user's file
 *                   where it was (move removes the source only after the cache links the blob)
 *   hash only       the blob is in the cache already: nothing is written, the source is only read
 *
 * A temp that does not match, or whose file changed while it was hashed, is removed here.
 */
import { link, open, stat, unlink, type FileHandle } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { HubcacheError } from '../errors.js';
import { createStreamingHasher } from '../cache/hashFile.js';
import type { HashAlgorithm } from '../cache/etag.js';
import { cacheTempDir, tempPath } from '../cache/replaceViaTemp.js';

/** Read size of the copy-and-hash loop: big enough that a copy is not syscall-bound. */
const COPY_CHUNK_BYTES = 1024 * 1024;

export type StageHow = 'copy' | 'link' | 'hash-only';

export interface StageLocalFileParams {
  cacheDir: string;
  /** The user's file (followed if it is a symlink only for `copy` and `hash-only`). */
  source: string;
  how: StageHow;
  algorithm: HashAlgorithm;
  /** What the caller's error messages call the file, e.g. `org/m/model.gguf`. */
  label: string;
  signal?: AbortSignal | undefined;
  onProgress?: ((event: { bytesDone: number; bytesTotal: number }) => void) | undefined;
}

export interface StagedFile {
  /** The temp holding the bytes (absent for `hash-only`); the caller renames it into blobs/ or removes it. */
  tempPath: string | undefined;
  digest: string;
  size: number;
  /** The source as it was when staged: the caller removes it (move) only if it is still this file. */
  sourceStats: Stats;
}

export async function stageLocalFile(params: StageLocalFileParams): Promise<StagedFile> {
  const sourceStats = await stat(params.source);
  if (params.how === 'link') {
    const temp = await tempPath({ tempDir: cacheTempDir(params.cacheDir) });
    await link(params.source, temp);
    try {
      const hashed = await hashAndCopy({ ...params, from: temp });
      return { tempPath: temp, ...hashed, sourceStats };
    } catch (err) {
      await unlink(temp).catch(() => undefined);
      throw err;
    }
  }
  if (params.how === 'hash-only') {
    const hashed = await hashAndCopy({ ...params, from: params.source });
    return { tempPath: undefined, ...hashed, sourceStats };
  }
  const temp = await tempPath({ tempDir: cacheTempDir(params.cacheDir) });
  try {
    const hashed = await hashAndCopy({ ...params, from: params.source, to: temp });
    return { tempPath: temp, ...hashed, sourceStats };
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  }
}

/**
 * Reads `from` once, hashing every byte (and writing it to `to` when given). The size in the
 * git-sha1 header is the fstat size: a file that grows or shrinks while it is read, or whose
 * mtime moves, is refused, since its digest would describe bytes that are no longer there.
 */
async function hashAndCopy(params: StageLocalFileParams & { from: string; to?: string }): Promise<{ digest: string; size: number }> {
  const input = await open(params.from, 'r');
  let output: FileHandle | undefined;
  try {
    const before = await input.stat();
    if (!before.isFile()) {
      throw new HubcacheError({ code: 'E_USAGE', message: `${params.source} is not a regular file`, data: { source: params.source } });
    }
    if (params.to !== undefined) output = await open(params.to, 'wx', 0o644);
    const hasher = createStreamingHasher({ algorithm: params.algorithm, size: before.size });
    const buffer = Buffer.allocUnsafe(COPY_CHUNK_BYTES);
    let done = 0;
    for (;;) {
      params.signal?.throwIfAborted();
      const { bytesRead } = await input.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      const chunk = buffer.subarray(0, bytesRead);
      hasher.update(chunk);
      if (output) await writeAll(output, chunk);
      done += bytesRead;
      params.onProgress?.({ bytesDone: done, bytesTotal: before.size });
    }
    const after = await input.stat();
    if (done !== before.size || after.size !== before.size || after.mtimeMs !== before.mtimeMs) {
      throw new HubcacheError({
        code: 'E_INTEGRITY',
        message: `${params.source} changed while it was being read for ${params.label}; nothing was written to the cache`,
        hint: 'Wait until whatever writes the file is done, then adopt it again.',
        data: { source: params.source },
      });
    }
    return { digest: hasher.digest(), size: done };
  } finally {
    await output?.close();
    await input.close();
  }
}

async function writeAll(handle: FileHandle, chunk: Buffer): Promise<void> {
  let offset = 0;
  while (offset < chunk.length) {
    const { bytesWritten } = await handle.write(chunk, offset, chunk.length - offset, null);
    offset += bytesWritten;
  }
}
