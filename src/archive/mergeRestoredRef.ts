/**
 * The last step of a restore: one ref from the archive merged into the cache.
 * Written only when its commit has a snapshot here (a ref to a missing snapshot
 * makes huggingface_hub's scan reject the repo); a ref that already points to
 * another commit is kept unless `force` (which commit is newer cannot be known
 * from here), and the outcome says so.
 */
import { stat } from 'node:fs/promises';
import { readRef } from '../cache/readRefs.js';
import type { RepoRef } from '../cache/repoId.js';
import { repoPaths } from '../cache/repoPaths.js';
import { writeRef } from '../cache/writeRef.js';

export interface RestoreRefOutcome {
  repo: string;
  ref: string;
  commit: string;
  /** created / moved (with force) / unchanged / kept (points elsewhere; not moved) / no-snapshot (nothing of that commit restored). */
  status: 'created' | 'moved' | 'unchanged' | 'kept' | 'no-snapshot';
  current?: string;
}

export async function mergeRestoredRef(args: {
  cacheDir: string;
  ref: { folder: string; repo: RepoRef; name: string; commit: string };
  force: boolean;
  dryRun: boolean;
  linkedCommits: Set<string>;
}): Promise<RestoreRefOutcome> {
  const { ref } = args;
  const paths = repoPaths({ cacheDir: args.cacheDir, ...ref.repo });
  const outcome = { repo: ref.folder, ref: ref.name, commit: ref.commit };
  // A ref to a commit without a snapshot makes huggingface_hub's scan reject the repo.
  const snapshot = args.linkedCommits.has(`${ref.folder}/${ref.commit}`) || (await stat(paths.snapshot(ref.commit)).catch(() => undefined))?.isDirectory() === true;
  if (!snapshot) return { ...outcome, status: 'no-snapshot' };
  const current = (await readRef({ refPath: paths.ref(ref.name) }).catch(() => undefined))?.trim();
  if (current === ref.commit) return { ...outcome, status: 'unchanged' };
  if (current !== undefined && !args.force) return { ...outcome, status: 'kept', current };
  if (!args.dryRun) await writeRef({ cacheDir: args.cacheDir, ...ref.repo, revision: ref.name, commit: ref.commit });
  return { ...outcome, status: current === undefined ? 'created' : 'moved', ...(current !== undefined ? { current } : {}) };
}
