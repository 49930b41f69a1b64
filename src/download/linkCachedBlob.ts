/**
 * A blob that is already in `blobs/`: make it the file at `path` in the commit's snapshot and
 * point the ref at the commit (only now that its snapshot has the file). No-op when the link is
 * already right, so a read-only cache that holds everything needs no write.
 */
import { readlink } from 'node:fs/promises';
import { linkSnapshotFile } from '../cache/linkSnapshotFile.js';
import type { RepoRef } from '../cache/repoId.js';
import { repoPaths } from '../cache/repoPaths.js';
import { isCommitHash } from '../cache/revision.js';
import { writeRef } from '../cache/writeRef.js';

export interface LinkCachedBlobParams extends RepoRef {
  cacheDir: string;
  revision: string;
  commit: string;
  path: string;
  etag: string;
}

export async function linkCachedBlob(params: LinkCachedBlobParams): Promise<void> {
  const paths = repoPaths(params);
  const expected = paths.blobLinkTarget(params.commit, params.path, params.etag);
  const current = await readlink(paths.snapshotFile(params.commit, params.path)).catch(() => undefined);
  if (current !== expected) await linkSnapshotFile({ ...params });
  if (!isCommitHash(params.revision)) await writeRef({ ...params, revision: params.revision, commit: params.commit });
}
