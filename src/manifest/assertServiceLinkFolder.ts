/**
 * sync owns `<HF_HOME>/links/<service>/` and nothing else. If `links/` or a
 * service's folder is a symlink, writing a link "into" it writes wherever it
 * points, and removing "undeclared" links there deletes someone else's links;
 * so both folders must be real folders (or not exist yet). The same rule as
 * the cache's own guard (insideCache): never act through a linked folder.
 */
import { lstat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { HubcacheError } from '../errors.js';

/** Throws E_OUTSIDE_CACHE (a link) or E_CACHE_DAMAGED (a file) unless `serviceDir` and its parent `links/` are real folders or absent. */
export async function assertServiceLinkFolder(params: { serviceDir: string }): Promise<void> {
  // Parent first: when links/ itself is a link, that is the folder to name.
  for (const dir of [dirname(params.serviceDir), params.serviceDir]) {
    const stats = await lstat(dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    if (!stats || stats.isDirectory()) continue;
    if (stats.isSymbolicLink()) {
      throw new HubcacheError({
        code: 'E_OUTSIDE_CACHE',
        message: `Refusing to sync links through ${dir}: it is a symlink, so links would be written (and undeclared ones removed) wherever it points; nothing was changed`,
        hint: `Replace the link with a real folder (rm ${dir} && mkdir ${dir}); mount or link HF_HOME itself instead if the links must live elsewhere.`,
        data: { path: dir },
      });
    }
    throw new HubcacheError({
      code: 'E_CACHE_DAMAGED',
      message: `${dir} is a file, not a folder of service links; it was left alone`,
      hint: 'Move it away and run `hubcache sync` again.',
      data: { path: dir },
    });
  }
}
