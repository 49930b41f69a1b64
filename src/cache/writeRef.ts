/**
 * Records "revision X is commit Y" under refs/, only when it changed, via a
 * temp file and a rename so readers never see a half-written ref. Written
 * without a newline, as huggingface_hub does. The temp lives in the cache's
 * temp folder, never in refs/: other tools read every file there as a ref.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { readRef } from './readRefs.js';
import { cacheTempDir, replaceViaTemp } from './replaceViaTemp.js';
import { repoPaths } from './repoPaths.js';
import type { RepoRef } from './repoId.js';
import { isCommitHash } from './revision.js';

/** Returns true when the ref was written (false: already right, or the revision is a commit). */
export async function writeRef(params: RepoRef & { cacheDir: string; revision: string; commit: string }): Promise<boolean> {
  if (params.revision === params.commit || isCommitHash(params.revision)) return false;
  const refPath = repoPaths(params).ref(params.revision);
  // Through the one bounded reader: a FIFO or huge file in its place is simply replaced.
  const current = await readRef({ refPath }).catch(() => undefined);
  // Tolerate a trailing newline written by hand or by other tools: same commit, no write.
  if (current !== undefined && current.trim() === params.commit) return false;
  await mkdir(dirname(refPath), { recursive: true });
  await replaceViaTemp({ tempDir: cacheTempDir(params.cacheDir), dest: refPath, write: (tmp) => writeFile(tmp, params.commit) });
  return true;
}
