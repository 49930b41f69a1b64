/**
 * Streaming file hashes: sha256 for LFS/xet blobs, git-sha1 for regular blobs.
 * Reads go into one reused buffer, so memory stays constant for 50 GB files.
 */
import { createHash, type Hash } from 'node:crypto';
import { open } from 'node:fs/promises';
import type { HashAlgorithm } from './etag.js';

// Measured: 64 KiB reads hash ~1.5x faster than 4 MiB ones (the data stays in the CPU cache
// between read() and sha256).
export const HASH_CHUNK_BYTES = 64 * 1024;

/** A hasher that receives bytes as they arrive (download) or are read (verify). */
export interface StreamingHasher {
  update(chunk: Uint8Array): void;
  digest(): string;
}

/**
 * git-sha1 needs the total size up front ("blob <size>\0" prefix); downloads
 * know it from the Hub's headers, verify knows it from fstat.
 */
export function createStreamingHasher(params: { algorithm: HashAlgorithm; size: number }): StreamingHasher {
  let hash: Hash;
  if (params.algorithm === 'sha256') {
    hash = createHash('sha256');
  } else {
    hash = createHash('sha1');
    hash.update(`blob ${params.size}\0`);
  }
  return {
    update: (chunk) => {
      hash.update(chunk);
    },
    digest: () => hash.digest('hex'),
  };
}

export interface HashFileResult {
  digest: string;
  size: number;
}

export async function hashFile(params: { path: string; algorithm: HashAlgorithm }): Promise<HashFileResult> {
  const handle = await open(params.path, 'r');
  try {
    const { size } = await handle.stat();
    const hasher = createStreamingHasher({ algorithm: params.algorithm, size });
    const buffer = Buffer.allocUnsafe(HASH_CHUNK_BYTES);
    let total = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      hasher.update(buffer.subarray(0, bytesRead));
      total += bytesRead;
    }
    // The file may have changed size under us (another writer); the bytes we read are what count,
    // and a git-sha1 computed with the wrong size prefix is meaningless: report one that cannot match.
    const digest = total !== size && params.algorithm === 'git-sha1' ? `size-changed-${total}` : hasher.digest();
    return { digest, size: total };
  } finally {
    await handle.close();
  }
}
