/**
 * Opening (or creating) a lock file the way Python's filelock does: never
 * following a symlink, never truncating, group-writable when we create it, and
 * read-only when that is all we may have (flock needs no write access).
 */
import { constants as fsConstants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';

import { fromSystemError } from '../errors.js';

/** Lock files are group-writable so containers of one group, as different users, can share them. */
export const LOCK_FILE_MODE = 0o664;

/**
 * Opens the lock file, creating it when missing. O_EXCL first tells us whether
 * we created it, the one case where we set the mode: umask (022) strips the
 * group write bit that lets other users of the group lock it, and files that
 * others created are theirs to manage.
 */
export async function openLockFile(params: { path: string }): Promise<FileHandle> {
  const { path } = params;
  const { O_RDWR, O_RDONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = fsConstants;
  for (;;) {
    try {
      const handle = await open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, LOCK_FILE_MODE);
      try {
        await handle.chmod(LOCK_FILE_MODE);
      } catch (err) {
        const code = errnoCode(err);
        // Some network/FUSE filesystems map ownership so that even the creator
        // may not chmod; the lock still works, only sharing is narrower.
        if (code !== 'EPERM' && code !== 'EACCES') {
          await handle.close();
          throw fromSystemError({ err, path, action: 'set the lock file mode' });
        }
      }
      return handle;
    } catch (err) {
      // EEXIST is the common case (the file is there, or a symlink: O_EXCL never
      // follows one and the open below refuses it with ELOOP).
      if (errnoCode(err) !== 'EEXIST') throw fromSystemError({ err, path, action: 'create the lock file' });
    }
    try {
      return await open(path, O_RDWR | O_NOFOLLOW);
    } catch (err) {
      const code = errnoCode(err);
      // Deleted between our O_EXCL attempt and this open: create it again.
      if (code === 'ENOENT') continue;
      if (code === 'EACCES' || code === 'EROFS' || code === 'EPERM') {
        // Someone else's 0644 lock file (Python's filelock default mode) or a
        // read-only mount: flock needs no write access, and we never write to
        // lock files, so a read-only fd locks the same way.
        try {
          return await open(path, O_RDONLY | O_NOFOLLOW);
        } catch (err2) {
          if (errnoCode(err2) === 'ENOENT') continue;
          throw fromSystemError({ err: err2, path, action: 'open the lock file' });
        }
      }
      throw fromSystemError({ err, path, action: 'open the lock file' });
    }
  }
}

export function errnoCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}
