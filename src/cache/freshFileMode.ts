/**
 * The permission bits a new file gets in a folder (umask and default ACLs
 * applied), found by creating one, as huggingface_hub does before moving a
 * blob into place. A shared cache then keeps whatever group access its
 * folders grant, instead of the 0600 of a private temp file.
 */
import { open, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

/** Probe names are `<prefix><hex>`; gc recognises (and sweeps) one a kill left behind. */
export const MODE_PROBE_PREFIX = '.hubcache-mode-probe-';

export async function freshFileMode(params: { dir: string }): Promise<number | undefined> {
  // The one temp not made in the cache's temp folder (replaceViaTemp): the mode it measures is
  // that of *this* folder (default ACLs, setgid group). It lives for one open/stat/unlink.
  const probe = join(params.dir, `${MODE_PROBE_PREFIX}${randomBytes(4).toString('hex')}`);
  try {
    const handle = await open(probe, 'wx', 0o666);
    await handle.close();
    return (await stat(probe)).mode & 0o7777;
  } catch {
    return undefined;
  } finally {
    await unlink(probe).catch(() => undefined);
  }
}
