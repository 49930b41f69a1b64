/**
 * Every temp file hubcache writes on its way to an atomic rename, named in one
 * place. Temps of cache writes (refs, snapshot links, CACHEDIR.TAG, access
 * records, relinks) go to `<cache-root>/.locks/.hubcache/tmp/`:
 * - never where other tools read: Python's `scan_cache_dir` reads every file
 *   under `refs/` as a ref (a crash once left `refs/main.<hex>.tmp` there, an
 *   empty one makes it reject the whole repo), and both its scan and
 *   `@huggingface/hub`'s `scanCacheDir` skip `.locks` at the root;
 * - on the cache's own filesystem, so the rename into place stays atomic;
 * - in one folder, so `gc` sweeps what a killed writer left without guessing
 *   at names (see planGc; the names older hubcache versions used are still
 *   recognised there).
 *
 * Not temps in this sense: partial downloads (`blobs/<etag>.<hex>.incomplete`)
 * keep huggingface_hub's naming so either tool can resume the other's, and
 * freshFileMode's probe must be made in the folder whose mode it measures.
 */
import { randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, rename, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { HUBCACHE_DIR_NAME } from './repoPaths.js';

/** The temp folder of a cache, relative to its root. */
export const TEMP_DIR_NAME = `${HUBCACHE_DIR_NAME}/tmp`;

/** `<cacheDir>/.locks/.hubcache/tmp`. */
export function cacheTempDir(cacheDir: string): string {
  return join(cacheDir, TEMP_DIR_NAME);
}

/**
 * Makes `tempDir` if missing. Each folder made gets its parent's permission bits
 * and group: the writes that used to make their temps beside the target (in a
 * group-writable refs/ of a shared cache) must not fail for the group's other
 * users because the first user's umask made the temp folder private.
 */
export async function ensureTempDir(params: { tempDir: string }): Promise<void> {
  const first = await mkdir(params.tempDir, { recursive: true });
  if (first === undefined) return;
  const made: string[] = [];
  for (let dir = params.tempDir; dir.length >= first.length; dir = dirname(dir)) made.unshift(dir);
  for (const dir of made) {
    try {
      const parent = await stat(dirname(dir));
      await chmod(dir, parent.mode & 0o7777);
      await chown(dir, -1, parent.gid);
    } catch {
      // Not a member of the parent's group, or a file system without modes: umask's folder still works for us.
    }
  }
}

/**
 * A fresh temp path in `tempDir` (made if missing). The name is random, so
 * concurrent writers (other processes, other containers) never share one.
 */
export async function tempPath(params: { tempDir: string }): Promise<string> {
  await ensureTempDir(params);
  return join(params.tempDir, `${randomBytes(8).toString('hex')}.tmp`);
}

export interface ReplaceViaTempParams {
  /** Where the temp is made: `cacheTempDir(root)` for anything in a cache; it must be on `dest`'s filesystem. */
  tempDir: string;
  /** The final path, replaced in one step by rename(2): readers see the old entry or the new one, never a partial one. */
  dest: string;
  /** Creates the temp at the given path (writeFile, symlink, link...), complete, before it is renamed. */
  write: (tmp: string) => Promise<void>;
}

/** Writes `dest` by temp + rename; on any failure the temp is removed and the error rethrown. */
export async function replaceViaTemp(params: ReplaceViaTempParams): Promise<void> {
  const tmp = await tempPath({ tempDir: params.tempDir });
  try {
    await params.write(tmp);
    await rename(tmp, params.dest);
  } catch (err) {
    // A crash right here (kill -9) leaves the temp in tempDir, where only gc looks.
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}
