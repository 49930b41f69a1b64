/**
 * Opens an entry with O_NOFOLLOW and acts on the descriptor, after checking
 * it is still the inode that was inspected: a file replaced by a link (or by
 * another file) between the check and the fix is left alone, and so is one
 * that gained a hard link (a name outside the cache) since the walk counted them.
 */
import { constants as fsConstants, type Stats } from 'node:fs';
import { chmod, chown, lstat, open } from 'node:fs/promises';
import { assertInsideCache } from '../../cache/insideCache.js';

export interface NoFollowHandle {
  chown: (uid: number, gid: number) => Promise<void>;
  chmod: (mode: number) => Promise<void>;
  stat: () => Promise<Stats>;
}

export interface NoFollowTarget {
  cacheDir: string;
  path: string;
  /** Where to act when it differs from `path`: the real folder of a cache root that is a link. */
  openPath?: string;
  ino: number;
  isDir: boolean;
  /** Names the walk found inside the cache for this inode: more links now means a name outside. */
  namesInCache?: number;
}

export async function withNoFollow(params: NoFollowTarget & { act: (handle: NoFollowHandle) => Promise<string> }): Promise<string> {
  // The cache root itself is not "inside" the root, but doctor must fix it too (through its real path).
  if (params.openPath === undefined) await assertInsideCache({ cacheDir: params.cacheDir, path: params.path });
  const path = params.openPath ?? params.path;
  const flags = fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK | (params.isDir ? fsConstants.O_DIRECTORY : 0);
  const same = (stats: Stats): void => {
    if (stats.isSymbolicLink() || stats.ino !== params.ino) throw new Error('replaced since it was checked; run doctor again');
    if (!params.isDir && params.namesInCache !== undefined && stats.nlink > params.namesInCache) {
      throw new Error('it has a hard link outside the cache now, so changing it would change that file too; left alone');
    }
  };
  let handle;
  try {
    handle = await open(path, flags);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // The owner may chmod a file it cannot read (mode 0000): fall back to the path, after
    // checking the path still names the same non-link entry.
    if (code !== 'EACCES' && code !== 'EPERM') throw err;
    same(await lstat(path));
    return params.act({
      chown: (uid, gid) => chown(path, uid, gid),
      chmod: (mode) => chmod(path, mode),
      stat: () => lstat(path),
    });
  }
  try {
    same(await handle.stat());
    return await params.act({ chown: (uid, gid) => handle.chown(uid, gid), chmod: (mode) => handle.chmod(mode), stat: () => handle.stat() });
  } finally {
    await handle.close();
  }
}
