/**
 * The last steps of a repo's report, whoever read the repo (the addon's
 * summary, repoSummaries, or the full walk, scanRepo): refs by commit,
 * revisions in order and dated, refs to missing snapshots, dates of a repo
 * without blobs.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import type { CachedFile, CachedRepo, CachedRevision, CacheWarning, IncompleteFile, RepoJob } from './cacheScan.js';
import { byCodeUnits } from './byCodeUnits.js';
import { isCommitHash } from './revision.js';

/** The unique blobs the snapshots use: count, bytes, newest atime and mtime (0 when none). */
export interface UsedBlobs {
  count: number;
  bytes: number;
  lastAccessed: number;
  lastModified: number;
}

/** Commit -> the refs naming it; a ref that holds no commit hash is a warning. */
export function commitsOfRefs(params: { repoPath: string; refs: Map<string, string>; warnings: CacheWarning[] }): Map<string, string[]> {
  const refsByCommit = new Map<string, string[]>();
  for (const [name, commit] of params.refs) {
    if (!isCommitHash(commit)) {
      params.warnings.push({ code: 'bad-ref', path: join(params.repoPath, 'refs', name), message: `ref "${name}" does not hold a commit hash` });
      continue;
    }
    const list = refsByCommit.get(commit) ?? [];
    list.push(name);
    refsByCommit.set(commit, list);
  }
  return refsByCommit;
}

/** A revision's entry; one that uses no blob (or only blobs dated 1970) is dated by its folder. */
export function revisionEntry(params: {
  commit: string;
  snapshotPath: string;
  refsByCommit: Map<string, string[]>;
  files: CachedFile[];
  nbFiles: number;
  sizeOnDisk: number;
  lastModified: number;
}): CachedRevision {
  let { lastModified } = params;
  if (params.nbFiles === 0 || lastModified === 0) {
    lastModified = statSync(params.snapshotPath, { throwIfNoEntry: false })?.mtimeMs ?? 0;
  }
  return {
    commit: params.commit,
    refs: (params.refsByCommit.get(params.commit) ?? []).sort(),
    snapshotPath: params.snapshotPath,
    files: params.files,
    nbFiles: params.nbFiles,
    sizeOnDisk: params.sizeOnDisk,
    lastModified,
  };
}

/** The report's last steps, whoever read the repo: revisions in order, refs to missing snapshots, dates of a repo without blobs. */
export function finishRepo(params: {
  job: RepoJob;
  refs: Map<string, string>;
  refsByCommit: Map<string, string[]>;
  revisions: CachedRevision[];
  used: UsedBlobs;
  orphanBlobs: { count: number; bytes: number };
  incomplete: IncompleteFile[];
  warnings: CacheWarning[];
}): CachedRepo {
  const { repoPath } = params.job;
  const { revisions, warnings } = params;
  revisions.sort((a, b) => b.lastModified - a.lastModified || byCodeUnits(a.commit, b.commit));
  const present = new Set(revisions.map((r) => r.commit));
  for (const [commit, names] of params.refsByCommit) {
    if (!present.has(commit)) {
      for (const name of names) {
        warnings.push({ code: 'ref-missing-snapshot', path: join(repoPath, 'refs', name), message: `ref "${name}" points to ${commit}, which has no snapshot` });
      }
    }
  }
  let { lastAccessed, lastModified } = params.used;
  if (params.used.count === 0) {
    const repoStats = statSync(repoPath, { throwIfNoEntry: false });
    lastAccessed = repoStats?.atimeMs ?? 0;
    lastModified = repoStats?.mtimeMs ?? 0;
  }
  return {
    repoType: params.job.repoType,
    repoId: params.job.repoId,
    folderName: params.job.folderName,
    repoPath,
    refs: Object.fromEntries([...params.refs].sort(([a], [b]) => byCodeUnits(a, b))),
    revisions,
    sizeOnDisk: params.used.bytes,
    nbFiles: params.used.count,
    orphanBlobs: params.orphanBlobs,
    incomplete: { files: params.incomplete, bytes: sum(params.incomplete.map((f) => f.bytes)) },
    lastAccessed,
    lastModified,
    warnings,
  };
}

function sum(values: Iterable<number>): number {
  let total = 0;
  for (const v of values) total += v;
  return total;
}
