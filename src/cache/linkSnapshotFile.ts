/**
 * Makes `snapshots/<commit>/<path>` a relative link to `blobs/<etag>`.
 * The link is created under a temp name and renamed into place, so a reader
 * sees either no file or a complete link, never a link being rewritten.
 */
import { mkdir, readlink, symlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { cacheTempDir, replaceViaTemp } from './replaceViaTemp.js';
import { repoPaths } from './repoPaths.js';
import type { RepoRef } from './repoId.js';

export async function linkSnapshotFile(params: RepoRef & { cacheDir: string; commit: string; path: string; etag: string }): Promise<string> {
  const paths = repoPaths(params);
  const linkPath = paths.snapshotFile(params.commit, params.path);
  const target = paths.blobLinkTarget(params.commit, params.path, params.etag);
  const existing = await readlink(linkPath).catch(() => undefined);
  if (existing === target) return linkPath;
  await mkdir(dirname(linkPath), { recursive: true });
  // rename() replaces a stale link (or a copied file) atomically. The link text is relative to
  // linkPath's folder, not the temp's: it dangles in the temp folder and resolves once in place.
  await replaceViaTemp({ tempDir: cacheTempDir(params.cacheDir), dest: linkPath, write: (tmp) => symlink(target, tmp) });
  return linkPath;
}
