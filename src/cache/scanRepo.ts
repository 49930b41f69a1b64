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
import { ENTRY, listRepoFolders, listSnapshotsTree, type RepoListings } from './dirListing.js';
import { readRepoBlobs, type BlobEntry } from './readRepoBlobs.js';
import { scanSnapshotDir, type RevisionTally } from './scanSnapshotDir.js';

/** Scans repo folders synchronously; the worker entry point calls this. */
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
    if (tally.nbFiles === 0 || lastModified === 0) {
      lastModified = statSync(snapshotPath, { throwIfNoEntry: false })?.mtimeMs ?? 0;
    }
    revisions.push({
      commit: name,
      refs: (refsByCommit.get(name) ?? []).sort(),
      snapshotPath,
      files: files ?? [],
      nbFiles: tally.nbFiles,
      sizeOnDisk,
      lastModified,
    });
  }
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

/** Where the entry at `start` ends in a listing: past its own unreadable mark and every entry under it. */
function subtreeEnd(fields: string[], kinds: Uint8Array, start: number): number {
  const name = fields[2 * start] as string;
  const prefix = `${name}/`;
  let end = start + 1;
  if (end < kinds.length && kinds[end] === ENTRY.unreadable && fields[2 * end] === name) end += 1;
  while (end < kinds.length && (fields[2 * end] as string).startsWith(prefix)) end += 1;
  return end;
}

function sum(values: Iterable<number>): number {
  let total = 0;
  for (const v of values) total += v;
  return total;
}
