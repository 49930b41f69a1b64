/**
 * Makes `snapshots/<commit>/<path>` a relative link to `blobs/<etag>`.
 * The link is created under a temp name and renamed into place, so a reader
 * sees either no file or a complete link, never a link being rewritten.
 */
import { mkdir, readlink, rename, symlink, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { randomBytes } from 'node:crypto';
import { repoPaths } from './repoPaths.js';
import type { RepoRef } from './repoId.js';

export async function linkSnapshotFile(params: RepoRef & { cacheDir: string; commit: string; path: string; etag: string }): Promise<string> {
  const paths = repoPaths(params);
  const linkPath = paths.snapshotFile(params.commit, params.path);
  const target = paths.blobLinkTarget(params.commit, params.path, params.etag);
  const existing = await readlink(linkPath).catch(() => undefined);
  if (existing === target) return linkPath;
  await mkdir(dirname(linkPath), { recursive: true });
  const tmp = `${linkPath}.${randomBytes(4).toString('hex')}.tmplink`;
  try {
    await symlink(target, tmp);
    // rename() replaces a stale link (or a copied file) atomically.
    await rename(tmp, linkPath);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  return linkPath;
}
