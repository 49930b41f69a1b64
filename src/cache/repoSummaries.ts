/**
 * The summary scan (`ls`) of many repos in one call to the addon
 * (native/repoSummary.c): refs read, blobs lstat'ed, each snapshot link matched
 * to its blob and the totals tallied in C, on two threads, so that no string
 * per link crosses into JavaScript.
 *
 * The addon answers only for the usual repo: nothing in it the scan would warn
 * about (see the C file's header). It declines every other repo, and
 * scanRepo's full walk scans that one, so each rule lives in one place: the
 * walk. test/cache/repoSummary.test.ts checks that an answer equals the walk's.
 */
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { CachedRepo, CacheWarning, IncompleteFile, RepoJob } from './cacheScan.js';
import { byCodeUnits } from './byCodeUnits.js';
import { commitsOfRefs, finishRepo, revisionEntry, type UsedBlobs } from './finishRepo.js';
import { optionalNative, type SummarizeReposNative } from './flock.js';

/** What the addon read of one usual repo: the inputs of the repo's report, before its shared last steps (scanRepo.finishRepo). */
export interface RepoSummary {
  /** ref name (`main`, `refs/pr/1`) -> commit; every one a 40-hex commit. */
  refs: Map<string, string>;
  /** In no particular order; lastModified 0 when the revision uses no blob. */
  revisions: Array<{ commit: string; nbFiles: number; sizeOnDisk: number; lastModified: number }>;
  /** Partial downloads in blobs/, in no particular order. */
  incomplete: IncompleteFile[];
  /** The unique blobs the snapshots use: count, bytes, newest atime and mtime (0 when none). */
  used: UsedBlobs;
  orphanBlobs: { count: number; bytes: number };
}

/**
 * A summary scan's first step: the reports of the usual repos among `jobs`
 * (no file lists), and the jobs the full walk must scan (all of them without the addon).
 */
export function scanUsualRepos(params: { jobs: RepoJob[] }): { repos: CachedRepo[]; rest: RepoJob[] } {
  const summaries = nativeRepoSummaries({ repoPaths: params.jobs.map((job) => job.repoPath) });
  if (!summaries) return { repos: [], rest: params.jobs };
  const repos: CachedRepo[] = [];
  const rest: RepoJob[] = [];
  params.jobs.forEach((job, i) => {
    const read = summaries[i];
    if (read) repos.push(repoFromSummary({ job, read }));
    else rest.push(job);
  });
  return { repos, rest };
}

/** Per repo its summary, or undefined where the full walk must scan it; undefined without the addon. */
export function nativeRepoSummaries(params: { repoPaths: string[] }): Array<RepoSummary | undefined> | undefined {
  const summarize = nativeSummarizeRepos();
  if (!summarize) return undefined;
  const results = summarize(params.repoPaths, Math.min(2, availableParallelism()));
  return results.map((result, i) => result && decode(params.repoPaths[i] as string, result));
}

/** The addon's summarizeRepos, or undefined when the addon is missing or older than repoSummary.c. */
export function nativeSummarizeRepos(): SummarizeReposNative | undefined {
  return optionalNative('summarizeRepos');
}

/** The layout is repoSummary.c's make_result: the text's fields in the order C read them; numbers: a head, the revisions', the partial downloads'. */
function decode(repoPath: string, [text, numbers]: [string, Float64Array]): RepoSummary {
  const fields = text.split('\0');
  const refCount = numbers[0] as number;
  const revisionCount = numbers[1] as number;
  const partialCount = numbers[2] as number;
  let f = 0;
  let n = 9;
  const incomplete: IncompleteFile[] = [];
  for (let i = 0; i < partialCount; i++, f += 1) {
    const name = fields[f] as string;
    const at = 9 + 3 * revisionCount + 2 * i;
    // readRepoBlobs's words for the same entry.
    incomplete.push({ path: `${repoPath}/blobs/${name}`, bytes: numbers[at] as number, kind: name.endsWith('.incomplete') ? 'incomplete' : 'downloadInProgress', lastModified: numbers[at + 1] as number });
  }
  const refs = new Map<string, string>();
  for (let i = 0; i < refCount; i++, f += 2) refs.set(fields[f] as string, fields[f + 1] as string);
  const revisions: RepoSummary['revisions'] = [];
  for (let i = 0; i < revisionCount; i++, f += 1, n += 3) {
    revisions.push({ commit: fields[f] as string, nbFiles: numbers[n] as number, sizeOnDisk: numbers[n + 1] as number, lastModified: numbers[n + 2] as number });
  }
  return {
    refs,
    revisions,
    incomplete,
    used: { count: numbers[3] as number, bytes: numbers[4] as number, lastAccessed: numbers[5] as number, lastModified: numbers[6] as number },
    orphanBlobs: { count: numbers[7] as number, bytes: numbers[8] as number },
  };
}

/** A repo the addon summed up (repoSummaries): the same last steps as the walk, with nothing to warn about on the way. */
function repoFromSummary(params: { job: RepoJob; read: RepoSummary }): CachedRepo {
  const { job, read } = params;
  const warnings: CacheWarning[] = [];
  const refsByCommit = commitsOfRefs({ repoPath: job.repoPath, refs: read.refs, warnings });
  const snapshotsDir = join(job.repoPath, 'snapshots');
  const revisions = read.revisions.map((r) => revisionEntry({ ...r, snapshotPath: join(snapshotsDir, r.commit), refsByCommit, files: [] }));
  const incomplete = read.incomplete.sort((a, b) => byCodeUnits(a.path, b.path));
  return finishRepo({ job, refs: read.refs, refsByCommit, revisions, used: read.used, orphanBlobs: read.orphanBlobs, incomplete, warnings });
}
