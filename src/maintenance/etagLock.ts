/**
 * Whether a blob or partial download is in a writer's hands. Every writer that locks
 * (huggingface_hub, hubcache) holds `.locks/<repo-folder>/<etag>.lock` for as
 * long as `blobs/<etag>[.<anything>].incomplete` grows, so a held lock means
 * hands off. llama.cpp does not lock yet, which is why callers also leave
 * recently written partials alone.
 */
import { join } from 'node:path';
import { isLockHeld } from '../cache/lock.js';
import { LOCKS_DIR_NAME } from '../cache/repoPaths.js';

const ETAG_RE = /^[A-Za-z0-9_=+-]{1,256}$/;

export function isPartialFileName(name: string): boolean {
  return name.endsWith('.incomplete') || name.endsWith('.downloadInProgress');
}

/** `blobs/<etag>.abc.incomplete` -> `<root>/.locks/<repo-folder>/<etag>.lock`; undefined when the name holds no etag. */
export function etagLockPath(params: { cacheDir: string; repo: string; name: string }): string | undefined {
  const etag = params.name.split('.')[0] ?? '';
  if (!ETAG_RE.test(etag)) return undefined;
  return join(params.cacheDir, LOCKS_DIR_NAME, params.repo, `${etag}.lock`);
}

/**
 * Whether a process holds the lock of the etag a blob or partial file is
 * named after: a partial still being written, or a blob a writer is linking
 * right now. `unknown` when the lock state cannot be read (flock addon
 * missing, unreadable lock folder): callers decide what that means for them.
 */
export async function etagLockState(params: { cacheDir: string; repo: string; name: string }): Promise<'held' | 'free' | 'unknown'> {
  const lockPath = etagLockPath(params);
  if (lockPath === undefined) return 'free';
  try {
    return (await isLockHeld({ path: lockPath })) ? 'held' : 'free';
  } catch {
    return 'unknown';
  }
}

/** For partials: an unknown lock state counts as held, since deleting a live download is worse than keeping a dead one. */
export async function isEtagLockHeld(params: { cacheDir: string; repo: string; name: string }): Promise<boolean> {
  return (await etagLockState(params)) !== 'free';
}
