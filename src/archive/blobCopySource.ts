/**
 * Where a hard-linked blob entry gets its bytes. A `tar czf` of a cache that
 * `hubcache dedupe` (or anything else) hard-linked stores a blob's first name
 * as a file and every other name as a hard link to it. Such a link is
 * restored only as a second copy of that blob, read back from the cache where
 * the first one was just restored (and hashed again as it is written): never
 * by linking to whatever the link names. So the link must point at a blob
 * entry earlier in the same archive, of the same cache (the same folders
 * above the repo folder) and the same name, and that blob must be in the cache now.
 */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import type { RepoRef } from '../cache/repoId.js';
import { repoPaths } from '../cache/repoPaths.js';
import { quoteInput } from '../quoteInput.js';
import type { ClassifiedEntry } from './classifyEntry.js';
import type { RestoreBlobParams } from './restoreBlob.js';

/** Blob entries seen so far in a plain tar, by normalised name. */
export type BlobEntries = Map<string, { folder: string; repo: RepoRef; etag: string; prefix: string; size: number }>;

const COPY_CHUNK_BYTES = 256 * 1024;

export interface BlobCopySourceParams {
  entry: Extract<ClassifiedEntry, { kind: 'blob-copy' }>;
  blobEntries: BlobEntries;
  /** Blob restores still running (key -> task): the first name may still be committing. */
  inFlight: Map<string, Promise<void>>;
  /** Blobs in the cache now (key -> size); in a dry run, the verified ones. */
  available: Map<string, number>;
  keyOf: (folder: string, etag: string) => string;
  cacheDir: string;
  /** Repo folders being restored, when not all. */
  selected: Set<string> | undefined;
}

export async function blobCopySource(params: BlobCopySourceParams): Promise<{ refused: string } | { size: number; content: RestoreBlobParams['content'] }> {
  const { entry } = params;
  const target = quoteInput(entry.target, 200);
  const source = params.blobEntries.get(entry.target);
  if (!source || source.prefix !== entry.prefix) return { refused: `it is a hard link to ${target}, which is no blob earlier in the archive, in the same cache` };
  if (source.etag !== entry.etag) return { refused: `it is a hard link to ${target}, a blob of another name` };
  if (params.selected && !params.selected.has(source.folder)) return { refused: `its content is stored under ${target}, in a repo not being restored (restore ${source.folder} too)` };
  const sourceKey = params.keyOf(source.folder, source.etag);
  await params.inFlight.get(sourceKey)?.catch(() => undefined);
  if (!params.available.has(sourceKey)) return { refused: `its content, stored under ${target}, was not restored` };
  const path = repoPaths({ cacheDir: params.cacheDir, ...source.repo }).blob(source.etag);
  return { size: source.size, content: (onChunk) => readFileChunks({ path, size: source.size, onChunk }) };
}

/** Up to `size` bytes of the file, in order, through one buffer (each chunk is done with when `onChunk` settles). */
async function readFileChunks(args: { path: string; size: number; onChunk: (chunk: Buffer) => Promise<void> | void }): Promise<void> {
  const handle = await open(args.path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const buffer = Buffer.allocUnsafeSlow(COPY_CHUNK_BYTES);
    let position = 0;
    while (position < args.size) {
      const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, args.size - position), position);
      // Shorter than it was: what came is hashed, and cannot match.
      if (bytesRead === 0) return;
      position += bytesRead;
      await args.onChunk(buffer.subarray(0, bytesRead));
    }
  } finally {
    await handle.close();
  }
}
