/**
 * Records "revision X is commit Y" under refs/, only when it changed, via a
 * temp file and a rename so readers never see a half-written ref. Written
 * without a newline, as huggingface_hub does.
 */
import { mkdir, rename, unlink, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { randomBytes } from 'node:crypto';
import { readRef } from './readRefs.js';
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
  const tmp = `${refPath}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, params.commit);
    await rename(tmp, refPath);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  return true;
}
