import { readdirSync, type Dirent } from 'node:fs';
import type { CacheWarning } from './cacheScan.js';

/** A folder's entries; a missing folder is empty, an unreadable one is empty plus an `unreadable` warning. */
export function readDirOrWarn(params: { dir: string; warnings: CacheWarning[] }): Dirent[] {
  try {
    return readdirSync(params.dir, { withFileTypes: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') params.warnings.push({ code: 'unreadable', path: params.dir, message: `cannot read: ${(err as Error).message}` });
    return [];
  }
}
