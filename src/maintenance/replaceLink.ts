/**
 * Replaces a link inside the cache with one holding new text: made at a temp
 * name beside it, then renamed over it, so a reader sees the old link or the
 * new one, never neither. Used wherever hubcache rewrites a link in place
 * (doctor's absolute links and copies of blobs, verify's absolute links).
 */
import { rename, symlink, unlink } from 'node:fs/promises';
import { assertInsideCache } from '../cache/insideCache.js';
import { tempSiblingPath } from './tempFiles.js';

export async function replaceLink(params: { cacheDir: string; path: string; text: string }): Promise<void> {
  await assertInsideCache({ cacheDir: params.cacheDir, path: params.path });
  const tmp = tempSiblingPath({ path: params.path });
  await symlink(params.text, tmp);
  try {
    await rename(tmp, params.path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}
