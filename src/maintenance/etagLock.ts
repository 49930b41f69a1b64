/**
 * Whether a blob or partial download is in a writer's hands. Every writer that locks
 * (huggingface_hub, hubcache) holds `.locks/<repo-folder>/<etag>.lock` for as
 * long as `blobs/<etag>[.<anything>].incomplete` grows, so a held lock means
 * hands off. llama.cpp does not lock yet, which is why callers also leave
 * recently written partials alone.
 */
import { join } from 'node:path';
import { etagCandidatesOfBlobFileName } from '../cache/etag.js';
import { isLockHeld } from '../cache/lock.js';
import { LOCKS_DIR_NAME } from '../cache/repoPaths.js';

export function isPartialFileName(name: string): boolean {
  return name.endsWith('.incomplete') || name.endsWith('.downloadInProgress');
}

/**
 * `blobs/<etag>.abc12345.incomplete` -> `<root>/.locks/<repo-folder>/<etag>.lock`: every lock a
 * writer of this file could hold (see etagCandidatesOfBlobFileName); empty when the name holds no etag.
 */
export function etagLockPaths(params: { cacheDir: string; repo: string; name: string }): string[] {
  return etagCandidatesOfBlobFileName(params.name).map((etag) => join(params.cacheDir, LOCKS_DIR_NAME, params.repo, `${etag}.lock`));
}

/**
 * Whether a process holds the lock of the etag a blob or partial file is
 * named after: a partial still being written, or a blob a writer is linking
 * right now. `unknown` when the lock state cannot be read (flock addon
 * missing, unreadable lock folder): callers decide what that means for them.
 */
export async function etagLockState(params: { cacheDir: string; repo: string; name: string }): Promise<'held' | 'free' | 'unknown'> {
  let state: 'free' | 'unknown' = 'free';
  for (const lockPath of etagLockPaths(params)) {
    try {
      if (await isLockHeld({ path: lockPath })) return 'held';
    } catch {
      state = 'unknown';
    }
  }
  return state;
}

/** For partials: an unknown lock state counts as held, since deleting a live download is worse than keeping a dead one. */
export async function isEtagLockHeld(params: { cacheDir: string; repo: string; name: string }): Promise<boolean> {
  return (await etagLockState(params)) !== 'free';
}
