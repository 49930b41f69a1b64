/**
 * The main thread's hash for one small stream: it sees each slot as the slot
 * goes to the write (in file order), after the bytes already on disk.
 */
import type { FileHandle } from 'node:fs/promises';
import { createStreamingHasher, HASH_CHUNK_BYTES, type StreamingHasher } from '../cache/hashFile.js';
import type { HashAlgorithm } from '../cache/etag.js';

/** A hash of the file so far: the bytes already on disk (a resumed prefix) are read first. */
export async function inlineHash(params: { handle: FileHandle; algorithm: HashAlgorithm; size: number; prefixBytes: number }): Promise<StreamingHasher> {
  const hash = createStreamingHasher({ algorithm: params.algorithm, size: params.size });
  const buffer = Buffer.allocUnsafe(HASH_CHUNK_BYTES);
  for (let done = 0; done < params.prefixBytes; ) {
    const { bytesRead } = await params.handle.read(buffer, 0, Math.min(buffer.length, params.prefixBytes - done), done);
    if (bytesRead <= 0) throw new Error('partial file shorter than its recorded progress');
    hash.update(buffer.subarray(0, bytesRead));
    done += bytesRead;
  }
  return hash;
}
