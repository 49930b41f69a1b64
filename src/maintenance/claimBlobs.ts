/**
 * Takes the etag locks of a batch of blobs (and partial downloads) of one repo,
 * then reads which blobs the repo's snapshots link to: the exclusion that lets
 * a cleanup delete a blob without racing a writer that links it.
 *
 * Every writer that links an existing blob holds that blob's etag lock while
 * it checks the blob is there and links it (huggingface_hub does, hubcache
 * does), so once we hold the lock, the links we read are all the links there
 * will be until we let go. A blob we could not lock is in a writer's hands
 * and stays. One read of the links serves the whole batch: re-reading them per
 * blob would cost (blobs x links) readlinks on a big evict.
 */
import { basename } from 'node:path';
import { tryLock, type HeldLock } from '../cache/lock.js';
import { etagLockPaths } from './etagLock.js';
import { readRepoInventory } from './repoInventory.js';

/** Locks held at once; well under the usual 1024 open files. */
export const CLAIM_BATCH_SIZE = 128;

export type ClaimState =
  /** We hold its lock; `linked` is current for it. */
  | 'held'
  /** A process holds its lock (a download writing it, or linking it): leave it. */
  | 'busy'
  /** The lock could not be taken (no write access to `.locks/`, flock unavailable). */
  | 'unavailable';

export interface BlobClaims {
  state(path: string): ClaimState | undefined;
  /** Blob names some snapshot link (or a link about to be renamed into place) points to, read under the locks. */
  readonly linked: ReadonlySet<string>;
  /** Why a lock was unavailable, per lock path. */
  problem(path: string): string | undefined;
  release(): Promise<void>;
}

export async function claimBlobs(params: {
  cacheDir: string;
  /** The repo folder (`<root>/models--org--name`). */
  repoPath: string;
  /** Absolute paths of `blobs/<etag>` and `blobs/<etag>.*.incomplete` files of that repo. */
  paths: string[];
}): Promise<BlobClaims> {
  const { cacheDir, repoPath } = params;
  const repo = basename(repoPath);
  const states = new Map<string, ClaimState>();
  const problems = new Map<string, string>();
  const problemOfLock = new Map<string, string>();
  // A blob and its partials share one lock file: flock on a second fd of ours would see it busy.
  const byLock = new Map<string, HeldLock | 'busy' | 'unavailable'>();
  const held: HeldLock[] = [];
  try {
    for (const path of params.paths) {
      // A name can belong to two etags (`<x>.<8 hex>.incomplete`): hold every candidate's lock.
      const lockPaths = etagLockPaths({ cacheDir, repo, name: basename(path) });
      if (lockPaths.length === 0) {
        // No etag in the name, so no writer can lock it either: nothing to exclude.
        states.set(path, 'unavailable');
        problems.set(path, 'its name holds no etag, so no lock protects it');
        continue;
      }
      let state: ClaimState = 'held';
      for (const lockPath of lockPaths) {
        let lock = byLock.get(lockPath);
        if (lock === undefined) {
          try {
            const taken = await tryLock({ path: lockPath });
            lock = taken ?? 'busy';
            if (taken) held.push(taken);
          } catch (err) {
            lock = 'unavailable';
            problemOfLock.set(lockPath, `its lock ${lockPath} cannot be taken: ${err instanceof Error ? err.message : String(err)}`);
          }
          byLock.set(lockPath, lock);
        }
        if (lock === 'busy') state = 'busy';
        else if (lock === 'unavailable' && state === 'held') state = 'unavailable';
        const problem = problemOfLock.get(lockPath);
        if (problem !== undefined) problems.set(path, problem);
      }
      states.set(path, state);
    }
    // Read after every lock is held: a link made before is seen here, and none can be made after.
    const linked = held.length > 0 ? readRepoInventory({ repoPath, folderName: repo, readLinks: true }).linkedBlobs : new Set<string>();
    let released: Promise<void> | undefined;
    return {
      state: (path) => states.get(path),
      linked,
      problem: (path) => problems.get(path),
      release: () => (released ??= releaseAll(held)),
    };
  } catch (err) {
    await releaseAll(held);
    throw err;
  }
}

async function releaseAll(locks: HeldLock[]): Promise<void> {
  const results = await Promise.allSettled(locks.map((lock) => lock.release()));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}
