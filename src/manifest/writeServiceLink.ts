/**
 * Points a stable service link at a snapshot file or folder. The link text is
 * relative to the link's folder, so it resolves wherever the volume is
 * mounted. A new link is made under a temp name and renamed over the old one:
 * rename(2) replaces it in one step, so a service opening the path sees the
 * old target or the new one, never a missing file.
 */
import { lstat, mkdir, readlink, rename, symlink, unlink } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import { randomBytes } from 'node:crypto';
import { HubcacheError, fromSystemError } from '../errors.js';
import { assertServiceLinkFolder } from './assertServiceLinkFolder.js';

export type LinkChange = 'created' | 'updated' | 'unchanged';

export interface WriteServiceLinkResult {
  change: LinkChange;
  /** The link text written (relative). */
  text: string;
  /** The link text before, when it was replaced. */
  previous: string | undefined;
}

/** The relative text a link at `linkPath` needs to reach `target`. */
export function serviceLinkText(params: { linkPath: string; target: string }): string {
  return relative(dirname(params.linkPath), params.target);
}

export async function writeServiceLink(params: { linkPath: string; target: string }): Promise<WriteServiceLinkResult> {
  const { linkPath } = params;
  const text = serviceLinkText(params);
  // Never through a linked links/ or links/<service>/: the link (and its temp) would land wherever that points.
  await assertServiceLinkFolder({ serviceDir: dirname(linkPath) });
  const existing = await lstat(linkPath).catch(() => undefined);
  let previous: string | undefined;
  if (existing) {
    if (!existing.isSymbolicLink()) {
      // A real file or folder here was put by someone else; replacing it could destroy their data.
      throw new HubcacheError({
        code: 'E_CACHE_DAMAGED',
        message: `${linkPath} is a ${existing.isDirectory() ? 'folder' : 'file'}, not a link hubcache made; it was left alone`,
        hint: 'Move it away and run `hubcache sync` again; links/ holds only links hubcache manages.',
        data: { path: linkPath },
      });
    }
    previous = await readlink(linkPath);
    if (previous === text) return { change: 'unchanged', text, previous };
  }
  const tmp = join(dirname(linkPath), `.${basename(linkPath)}.${randomBytes(4).toString('hex')}.tmplink`);
  try {
    await mkdir(dirname(linkPath), { recursive: true });
    await symlink(text, tmp);
    await rename(tmp, linkPath);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw fromSystemError({ err, path: linkPath, action: 'write the service link' });
  }
  return { change: existing ? 'updated' : 'created', text, previous };
}
