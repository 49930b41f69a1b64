/**
 * Replaces a link inside the cache with one holding new text: made in the
 * cache's temp folder, then renamed over it, so a reader sees the old link or
 * the new one, never neither. Used wherever hubcache rewrites a link in place
 * (doctor's absolute links and copies of blobs, verify's absolute links).
 */
import { symlink } from 'node:fs/promises';
import { assertInsideCache } from '../cache/insideCache.js';
import { cacheTempDir, replaceViaTemp } from '../cache/replaceViaTemp.js';

export async function replaceLink(params: { cacheDir: string; path: string; text: string }): Promise<void> {
  await assertInsideCache({ cacheDir: params.cacheDir, path: params.path });
  await replaceViaTemp({ tempDir: cacheTempDir(params.cacheDir), dest: params.path, write: (tmp) => symlink(params.text, tmp) });
}
