/**
 * Points a stable service link at a snapshot file or folder. The link text is
 * relative to the link's folder, so it resolves wherever the volume is
 * mounted. A new link is made under a temp name and renamed over the old one:
 * rename(2) replaces it in one step, so a service opening the path sees the
 * old target or the new one, never a missing file.
 */
import { lstat, mkdir, readlink, symlink } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { replaceViaTemp } from '../cache/replaceViaTemp.js';
import { HubcacheError, fromSystemError } from '../errors.js';
import { assertServiceLinkFolder } from './assertServiceLinkFolder.js';

/**
 * Where link swaps make their temp links: `<HF_HOME>/links/.hubcache-tmp/`. Not the
 * cache's temp folder, because HF_HUB_CACHE may sit on another filesystem than
 * HF_HOME (rename(2) across filesystems fails with EXDEV). links/ and its service
 * folders are real folders sync makes, so this one shares their filesystem; a
 * service can never be named like it (safeName refuses a leading "."), so sync
 * never takes it for a service folder, and no other tool reads links/.
 */
export const LINK_TEMP_DIR_NAME = '.hubcache-tmp';

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
  try {
    await mkdir(dirname(linkPath), { recursive: true });
    // links/<service>/<name>: the temp folder is links/.hubcache-tmp.
    await replaceViaTemp({ tempDir: join(dirname(dirname(linkPath)), LINK_TEMP_DIR_NAME), dest: linkPath, write: (tmp) => symlink(text, tmp) });
  } catch (err) {
    throw fromSystemError({ err, path: linkPath, action: 'write the service link' });
  }
  return { change: existing ? 'updated' : 'created', text, previous };
}
