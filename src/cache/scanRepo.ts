/**
 * The repo walk: one repo folder -> its report (revisions, refs, sizes,
 * orphan blobs, partial downloads, warnings). Runs on the caller's thread or
 * on a scan worker. Synchronous on purpose (see scanCache).
 */
import { linkedFolderWarnings } from './linkedEntries.js';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import type { CachedFile, CachedRepo, CachedRevision, CacheWarning, RepoJob } from './cacheScan.js';
import { readRefsSync } from './readRefs.js';
import { isCommitHash } from './revision.js';
import { byCodeUnits } from './byCodeUnits.js';
import { readDirOrWarn } from './readDirOrWarn.js';
import { readRepoBlobs, type BlobEntry } from './readRepoBlobs.js';
import { scanSnapshotDir, type RevisionTally } from './scanSnapshotDir.js';

const IGNORED_NAMES = new Set(['.DS_Store']);

/** Scans repo folders synchronously; the worker entry point calls this. */
export function scanRepos(params: { jobs: RepoJob[]; summary?: boolean; native?: boolean }): CachedRepo[] {
  return params.jobs.map((job) => scanRepo({ job, summary: params.summary === true, native: params.native }));
}

export interface ScanRepoParams {
  job: RepoJob;
  /** Totals only: every revision's `files` stays empty and no per-file object is built. */
  summary: boolean;
  /** false: read folders in JavaScript even when the addon is built (see dirListing). */
  native?: boolean;
}

export function scanRepo(params: ScanRepoParams): CachedRepo {
  const { repoPath } = params.job;
  const blobsDir = join(repoPath, 'blobs');
  const snapshotsDir = join(repoPath, 'snapshots');
  const warnings: CacheWarning[] = linkedFolderWarnings({ dirs: [blobsDir, snapshotsDir, join(repoPath, 'refs')] });
  const blobs = readRepoBlobs({ blobsDir, warnings, native: params.native });
  const refsRead = readRefsSync({ refsDir: join(repoPath, 'refs') });
  const snapshotEntries = readDirOrWarn({ dir: snapshotsDir, warnings });
  for (const problem of refsRead.problems) warnings.push({ code: 'bad-ref', path: problem.path, message: problem.message });

  const refsByCommit = new Map<string, string[]>();
  for (const [name, commit] of refsRead.refs) {
    if (!isCommitHash(commit)) {
      warnings.push({ code: 'bad-ref', path: join(repoPath, 'refs', name), message: `ref "${name}" does not hold a commit hash` });
      continue;
    }
    const list = refsByCommit.get(commit) ?? [];
    list.push(name);
    refsByCommit.set(commit, list);
  }

  const revisions: CachedRevision[] = [];
  const tallies: RevisionTally[] = [];
  snapshotEntries.forEach((entry) => {
      const snapshotPath = join(snapshotsDir, entry.name);
      if (IGNORED_NAMES.has(entry.name)) return;
      if (!entry.isDirectory() || !isCommitHash(entry.name)) {
        warnings.push({
          code: 'stray-entry',
          path: snapshotPath,
          message: entry.isSymbolicLink()
            ? 'hand-made link in snapshots/ (not a revision; other tools may take it for one)'
            : 'not a revision folder (snapshots/ should only hold 40-hex commit folders)',
        });
        return;
      }
      const files: CachedFile[] | undefined = params.summary ? undefined : [];
      const tally: RevisionTally = { nbFiles: 0, blobs: new Map() };
      scanSnapshotDir({ dir: snapshotPath, blobsDir, blobs: blobs.complete, tally, files, warnings, native: params.native });
      tallies.push(tally);
      // Plain code-unit order: localeCompare cost more than the whole walk on 20k files.
      files?.sort((a, b) => byCodeUnits(a.path, b.path));
      let lastModified = 0;
      let sizeOnDisk = 0;
      for (const blob of tally.blobs.values()) {
        sizeOnDisk += blob.size;
        if (blob.mtimeMs > lastModified) lastModified = blob.mtimeMs;
      }
      if (tally.nbFiles === 0 || lastModified === 0) {
        lastModified = statSync(snapshotPath, { throwIfNoEntry: false })?.mtimeMs ?? 0;
      }
      revisions.push({
        commit: entry.name,
        refs: (refsByCommit.get(entry.name) ?? []).sort(),
        snapshotPath,
        files: files ?? [],
        nbFiles: tally.nbFiles,
        sizeOnDisk,
        lastModified,
      });
    });
  revisions.sort((a, b) => b.lastModified - a.lastModified || byCodeUnits(a.commit, b.commit));

  const present = new Set(revisions.map((r) => r.commit));
  for (const [commit, names] of refsByCommit) {
    if (!present.has(commit)) {
      for (const name of names) {
        warnings.push({ code: 'ref-missing-snapshot', path: join(repoPath, 'refs', name), message: `ref "${name}" points to ${commit}, which has no snapshot` });
      }
    }
  }

  // Unique blobs across revisions, as huggingface_hub counts them.
  const used = new Map<string, BlobEntry>();
  for (const tally of tallies) for (const [key, blob] of tally.blobs) used.set(key, blob);
  let orphanCount = 0;
  let orphanBytes = 0;
  for (const [name, blob] of blobs.complete) {
    if (!used.has(name)) {
      orphanCount += 1;
      orphanBytes += blob.size;
    }
  }
  let lastAccessed = 0;
  let lastModified = 0;
  let sizeOnDisk = 0;
  for (const blob of used.values()) {
    sizeOnDisk += blob.size;
    if (blob.atimeMs > lastAccessed) lastAccessed = blob.atimeMs;
    if (blob.mtimeMs > lastModified) lastModified = blob.mtimeMs;
  }
  if (used.size === 0) {
    const repoStats = statSync(repoPath, { throwIfNoEntry: false });
    lastAccessed = repoStats?.atimeMs ?? 0;
    lastModified = repoStats?.mtimeMs ?? 0;
  }

  return {
    repoType: params.job.repoType,
    repoId: params.job.repoId,
    folderName: params.job.folderName,
    repoPath,
    refs: Object.fromEntries([...refsRead.refs].sort(([a], [b]) => byCodeUnits(a, b))),
    revisions,
    sizeOnDisk,
    nbFiles: used.size,
    orphanBlobs: { count: orphanCount, bytes: orphanBytes },
    incomplete: { files: blobs.incomplete, bytes: sum(blobs.incomplete.map((f) => f.bytes)) },
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
