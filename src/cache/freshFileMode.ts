/**
 * The permission bits a new file gets in a folder (umask and default ACLs
 * applied), found by creating one, as huggingface_hub does before moving a
 * blob into place. A shared cache then keeps whatever group access its
 * folders grant, instead of the 0600 of a private temp file.
 */
import { open, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

export async function freshFileMode(params: { dir: string }): Promise<number | undefined> {
  const probe = join(params.dir, `.hubcache-mode-probe-${randomBytes(4).toString('hex')}`);
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
