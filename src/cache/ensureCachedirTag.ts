/** Writes CACHEDIR.TAG at the cache root (backup tools skip tagged folders), as huggingface_hub does. */
import { access, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cacheTempDir, replaceViaTemp } from './replaceViaTemp.js';
import { CACHEDIR_TAG_NAME, CACHEDIR_TAG_SIGNATURE } from './repoPaths.js';

export const CACHEDIR_TAG_CONTENT = `${CACHEDIR_TAG_SIGNATURE}\n# This file is a cache directory tag created by hubcache.\n# For information about cache directory tags, see:\n#\thttps://bford.info/cachedir/\n`;

export async function ensureCachedirTag(params: { cacheDir: string }): Promise<void> {
  const path = join(params.cacheDir, CACHEDIR_TAG_NAME);
  try {
    await access(path);
    return;
  } catch {
    // Missing: write it below. Failing to write it never fails a download.
  }
  try {
    await replaceViaTemp({ tempDir: cacheTempDir(params.cacheDir), dest: path, write: (tmp) => writeFile(tmp, CACHEDIR_TAG_CONTENT) });
  } catch {
    // Read-only or racing writer: the tag is a courtesy to backup tools.
  }
}
