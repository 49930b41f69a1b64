/**
 * The repo walk: one repo folder -> its report (revisions, refs, sizes,
 * orphan blobs, partial downloads, warnings). Runs on the caller's thread or
 * on a scan worker. Synchronous on purpose (see scanCache).
 *
 * A summary scan first asks the addon (repoSummaries) for the totals of every
 * usual repo; this walk scans the rest, and both end in finishRepo. The
 * scan loads this file only when some repo needs the walk.
 */
import { linkedFolderWarnings } from './linkedEntries.js';
import { join } from 'node:path';
import type { CachedFile, CachedRepo, CachedRevision, CacheWarning, RepoJob } from './cacheScan.js';
import { readRefsSync } from './readRefs.js';
import { isCommitHash } from './revision.js';
import { byCodeUnits } from './byCodeUnits.js';
import { ENTRY, listRepoFolders, listSnapshotsTree, type RepoListings } from './dirListing.js';
import { readRepoBlobs, type BlobEntry } from './readRepoBlobs.js';
import { scanSnapshotDir, type RevisionTally } from './scanSnapshotDir.js';
import { commitsOfRefs, finishRepo, revisionEntry } from './finishRepo.js';

/** Walks repo folders synchronously, with every rule; the worker entry point calls this. */
export function scanRepos(params: { jobs: RepoJob[]; summary?: boolean; native?: boolean }): CachedRepo[] {
  // The addon reads every repo's folders first, in one call per kind of folder, on two threads.
  const listings = params.native === false ? undefined : listRepoFolders({ repoPaths: params.jobs.map((job) => job.repoPath) });
  return params.jobs.map((job, i) => scanRepo({ job, summary: params.summary === true, native: params.native, listings: listings?.[i] }));
}

export interface ScanRepoParams {
  job: RepoJob;
  /** Totals only: every revision's `files` stays empty and no per-file object is built. */
  summary: boolean;
  /** false: read folders in JavaScript even when the addon is built (see dirListing). */
  native?: boolean;
  /** What listRepoFolders read of this repo; what it lacks is read here. */
  listings?: RepoListings | undefined;
}

export function scanRepo(params: ScanRepoParams): CachedRepo {
  const { repoPath } = params.job;
  // A folder the batch declined is one the addon would decline again: straight to JavaScript.
  const native = params.listings ? false : params.native;
  const blobsDir = join(repoPath, 'blobs');
  const snapshotsDir = join(repoPath, 'snapshots');
  const warnings: CacheWarning[] = linkedFolderWarnings({ dirs: [blobsDir, snapshotsDir, join(repoPath, 'refs')] });
  const blobs = readRepoBlobs({ blobsDir, warnings, native, prefetched: params.listings?.blobs });
  const refsRead = readRefsSync({ refsDir: join(repoPath, 'refs') });
  const tree = listSnapshotsTree({ dir: snapshotsDir, warnings, native, prefetched: params.listings?.snapshots });
  for (const problem of refsRead.problems) warnings.push({ code: 'bad-ref', path: problem.path, message: problem.message });
  const refsByCommit = commitsOfRefs({ repoPath, refs: refsRead.refs, warnings });

  const revisions: CachedRevision[] = [];
  const tallies: RevisionTally[] = [];
  // The top entries of snapshots/ are the revisions; each one's contents follow its entry in the listing.
  for (let i = 0; i < tree.count; ) {
    const name = tree.fields[2 * i] as string;
    const kind = tree.kinds[i];
    const end = subtreeEnd(tree.fields, tree.kinds, i);
    const snapshotPath = join(snapshotsDir, name);
    if (kind !== ENTRY.dir || !isCommitHash(name)) {
      warnings.push({
        code: 'stray-entry',
        path: snapshotPath,
        message:
          kind === ENTRY.link || kind === ENTRY.linkGone
            ? 'hand-made link in snapshots/ (not a revision; other tools may take it for one)'
            : 'not a revision folder (snapshots/ should only hold 40-hex commit folders)',
      });
      i = end;
      continue;
    }
    const files: CachedFile[] | undefined = params.summary ? undefined : [];
    const tally: RevisionTally = { nbFiles: 0, blobs: new Map() };
    scanSnapshotDir({ snapshotsDir, listing: tree, start: i, end, blobsDir, blobs: blobs.complete, tally, files, warnings });
    i = end;
    tallies.push(tally);
    // Plain code-unit order: localeCompare cost more than the whole walk on 20k files.
    files?.sort((a, b) => byCodeUnits(a.path, b.path));
    let lastModified = 0;
    let sizeOnDisk = 0;
    for (const blob of tally.blobs.values()) {
      sizeOnDisk += blob.size;
      if (blob.mtimeMs > lastModified) lastModified = blob.mtimeMs;
    }
    revisions.push(revisionEntry({ commit: name, snapshotPath, refsByCommit, files: files ?? [], nbFiles: tally.nbFiles, sizeOnDisk, lastModified }));
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
  return finishRepo({
    job: params.job,
    refs: refsRead.refs,
    refsByCommit,
    revisions,
    used: { count: used.size, bytes: sizeOnDisk, lastAccessed, lastModified },
    orphanBlobs: { count: orphanCount, bytes: orphanBytes },
    incomplete: blobs.incomplete,
    warnings,
  });
}

/** Where the entry at `start` ends in a listing: past its own unreadable mark and every entry under it. */
function subtreeEnd(fields: string[], kinds: Uint8Array, start: number): number {
  const name = fields[2 * start] as string;
  const prefix = `${name}/`;
  let end = start + 1;
  if (end < kinds.length && kinds[end] === ENTRY.unreadable && fields[2 * end] === name) end += 1;
  while (end < kinds.length && (fields[2 * end] as string).startsWith(prefix)) end += 1;
  return end;
}

