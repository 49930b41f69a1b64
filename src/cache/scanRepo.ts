/**
 * The repo walk: one repo folder -> its report (revisions, refs, sizes,
 * orphan blobs, partial downloads, warnings). Runs on the caller's thread or
 * on a scan worker. Synchronous on purpose (see scanCache).
 *
 * A summary scan first asks the addon (repoSummaries) for the totals of every
 * usual repo; this walk scans the rest, and both end in finishRepo.
 */
import { linkedFolderWarnings } from './linkedEntries.js';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import type { CachedFile, CachedRepo, CachedRevision, CacheWarning, IncompleteFile, RepoJob } from './cacheScan.js';
import { readRefsSync } from './readRefs.js';
import { isCommitHash } from './revision.js';
import { byCodeUnits } from './byCodeUnits.js';
import { ENTRY, listRepoFolders, listSnapshotsTree, type RepoListings } from './dirListing.js';
import { readRepoBlobs, type BlobEntry } from './readRepoBlobs.js';
import { scanSnapshotDir, type RevisionTally } from './scanSnapshotDir.js';
import { nativeRepoSummaries, type RepoSummary } from './repoSummaries.js';

/** Scans repo folders synchronously; the worker entry point calls this. */
export function scanRepos(params: { jobs: RepoJob[]; summary?: boolean; native?: boolean }): CachedRepo[] {
  const summary = params.summary === true;
  const repos: Array<CachedRepo | undefined> = new Array<CachedRepo | undefined>(params.jobs.length);
  let rest = params.jobs.map((job, i) => ({ job, i }));
  if (summary && params.native !== false) {
    // Usual repos are summed up by the addon in one call; what it declines is walked below.
    const summaries = nativeRepoSummaries({ repoPaths: params.jobs.map((job) => job.repoPath) });
    if (summaries) {
      rest = rest.filter(({ job, i }) => {
        const read = summaries[i];
        if (read) repos[i] = repoFromSummary({ job, read });
        return read === undefined;
      });
    }
  }
  // The addon reads the remaining repos' folders first, in one call per kind of folder, on two threads.
  const listings = params.native === false || rest.length === 0 ? undefined : listRepoFolders({ repoPaths: rest.map(({ job }) => job.repoPath) });
  rest.forEach(({ job, i }, k) => {
    repos[i] = scanRepo({ job, summary, native: params.native, listings: listings?.[k] });
  });
  return repos as CachedRepo[];
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
    revisions.push(revision({ commit: name, snapshotPath, refsByCommit, files: files ?? [], nbFiles: tally.nbFiles, sizeOnDisk, lastModified }));
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

/** A repo the addon summed up (repoSummaries): the same last steps as the walk, with nothing to warn about on the way. */
function repoFromSummary(params: { job: RepoJob; read: RepoSummary }): CachedRepo {
  const { job, read } = params;
  const warnings: CacheWarning[] = [];
  const refsByCommit = commitsOfRefs({ repoPath: job.repoPath, refs: read.refs, warnings });
  const snapshotsDir = join(job.repoPath, 'snapshots');
  const revisions = read.revisions.map((r) => revision({ ...r, snapshotPath: join(snapshotsDir, r.commit), refsByCommit, files: [] }));
  const incomplete = read.incomplete.sort((a, b) => byCodeUnits(a.path, b.path));
  return finishRepo({ job, refs: read.refs, refsByCommit, revisions, used: read.used, orphanBlobs: read.orphanBlobs, incomplete, warnings });
}

/** Commit -> the refs naming it; a ref that holds no commit hash is a warning. */
function commitsOfRefs(params: { repoPath: string; refs: Map<string, string>; warnings: CacheWarning[] }): Map<string, string[]> {
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
function revision(params: {
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
function finishRepo(params: {
  job: RepoJob;
  refs: Map<string, string>;
  refsByCommit: Map<string, string[]>;
  revisions: CachedRevision[];
  used: RepoSummary['used'];
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
