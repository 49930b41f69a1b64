/**
 * Refuses a download that cannot fit before a byte is written, so a full disk
 * is a clear error up front rather than a half-written partial.
 */
import { statfs } from 'node:fs/promises';
import { HubcacheError } from '../errors.js';

export async function checkFreeSpace(params: { dir: string; needed: number; what: string }): Promise<void> {
  try {
    const fs = await statfs(params.dir);
    const free = Number(fs.bavail) * Number(fs.bsize);
    if (free < params.needed) {
      throw new HubcacheError({
        code: 'E_DISK_FULL',
        message: `Cannot ${params.what}: it needs ${params.needed} bytes and only ${free} are free in ${params.dir}`,
        hint: 'Free disk space (for example `hubcache evict --max-size SIZE` or `hubcache gc`) and run again; nothing was written.',
        data: { needed: params.needed, free, path: params.dir },
      });
    }
  } catch (err) {
    if (err instanceof HubcacheError) throw err;
    // statfs unsupported here: the writes themselves will report ENOSPC.
  }
}
