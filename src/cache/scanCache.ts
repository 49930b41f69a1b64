/**
 * Reads a whole hub cache into a plain report: repos, revisions, files, sizes,
 * refs, partial downloads, and every problem found along the way.
 *
 * Unlike huggingface_hub (which drops a whole repo on the first broken link)
 * and @huggingface/hub (which drops repos without refs/ and nested files),
 * a problem here is a warning on the item that has it; the rest of the repo
 * is still reported. Sizes follow huggingface_hub: a repo's size is the sum
 * of the unique blobs its snapshots link to.
 *
 * The walk is synchronous on purpose: a scan is tens of thousands of
 * readlink/lstat calls, and promise overhead made it 10x slower. Each folder
 * is read in one call to the addon (dirListing, native/listTree.c) when it is
 * built, else with Node's sync fs calls; a summary of a usual repo comes whole
 * from the addon (repoSummaries, native/repoSummary.c). A caller whose event loop must not
 * wait passes `threads` to run the repo walk on worker threads
 * (scanReposInWorkers).
 *
 * Files: the root walk (this file), the addon's summary of usual repos
 * (repoSummaries), the repo walk (scanRepo: readRepoBlobs, scanSnapshotDir,
 * both reading through dirListing), their shared last steps (finishRepo), the worker fan-out
 * (scanReposInWorkers, scanWorker), the report's types (cacheScan).
 */
import { readdirSync, type Dirent } from 'node:fs';
import { join, resolve } from 'node:path';
import { availableParallelism } from 'node:os';
import { parseRepoFolderName } from './repoId.js';
import { HUBCACHE_DIR_NAME, LOCKS_DIR_NAME } from './repoPaths.js';
import type { CacheScan, RepoJob } from './cacheScan.js';
import { nativeSummarizeRepos, scanUsualRepos } from './repoSummaries.js';

export type { CacheWarningCode, CacheWarning, CachedFile, CachedRevision, IncompleteFile, CachedRepo, CacheScan } from './cacheScan.js';

const ROOT_NON_REPOS = new Set([LOCKS_DIR_NAME, HUBCACHE_DIR_NAME, 'CACHEDIR.TAG', 'version.txt', '.DS_Store']);

export interface ScanCacheParams {
  cacheDir: string;
  /** Only these repo folders (`models--org--name`). */
  repos?: string[];
  /**
   * `files` (default) lists every file of every revision; `summary` keeps
   * only the per-revision and per-repo totals (what `ls` shows), which is
   * cheap to pass back from worker threads.
   */
  detail?: 'files' | 'summary';
  /**
   * Worker threads to run the walk on. Default 0 (this thread) when the addon
   * is built: its listing already runs on two threads, and a worker would only
   * add its own start-up (loading the modules again). Without the addon, 2
   * for a summary scan of a big cache (the kernel's path walks dominate and
   * split well over cores), else 0. A full
   * file list is slower to clone back from a worker than to build here.
   */
  threads?: number;
  /**
   * false: read folders in JavaScript even when the addon's listTrees is built
   * (the tests check both walkers give the same scan). Default true.
   */
  native?: boolean;
}

export async function scanCache(params: ScanCacheParams): Promise<CacheScan> {
  const cacheDir = resolve(params.cacheDir);
  const result: CacheScan = { cacheDir, exists: true, repos: [], warnings: [], sizeOnDisk: 0 };
  let entries: Dirent[];
  try {
    entries = readdirSync(cacheDir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      result.exists = false;
      return result;
    }
    throw err;
  }
  const wanted = params.repos ? new Set(params.repos) : undefined;
  const jobs: RepoJob[] = [];
  for (const entry of entries) {
    if (ROOT_NON_REPOS.has(entry.name) || entry.name.startsWith('.')) continue;
    const ref = parseRepoFolderName({ name: entry.name });
    const path = join(cacheDir, entry.name);
    if (!ref || !entry.isDirectory()) {
      result.warnings.push({ code: 'bad-folder', path, message: 'not a hub cache repo folder (expected "<type>s--<org>--<name>")' });
      continue;
    }
    if (wanted && !wanted.has(entry.name)) continue;
    jobs.push({ repoPath: path, folderName: entry.name, repoType: ref.repoType, repoId: ref.repoId });
  }
  const summary = params.detail === 'summary';
  const native = params.native !== false && nativeSummarizeRepos() !== undefined;
  const defaultThreads = !native && summary && jobs.length >= PARALLEL_MIN_REPOS ? Math.min(2, availableParallelism()) : 0;
  const threads = canUseWorkers() ? Math.min(params.threads ?? defaultThreads, jobs.length) : 0;
  if (threads > 0) {
    // Loaded only here: node:worker_threads costs start-up time that a scan on this thread never uses.
    // The workers take the addon's summary first too (scanWorker): the caller asked for a free event loop.
    const { scanReposInWorkers } = await import('./scanReposInWorkers.js');
    result.repos = await scanReposInWorkers({ jobs, threads, summary, native });
    return finish(result);
  }
  // A summary of the usual repos comes from the addon in one call; the rest (all of them for a file list) are walked.
  const { repos, rest } = summary && native ? scanUsualRepos({ jobs }) : { repos: [], rest: jobs };
  result.repos = repos;
  if (rest.length > 0) {
    // Loaded only here: the walk's modules cost start-up time that a cache of usual repos never uses.
    const { scanRepos } = await import('./scanRepo.js');
    result.repos.push(...scanRepos({ jobs: rest, summary, native }));
  }
  return finish(result);
}

function finish(result: CacheScan): CacheScan {
  result.repos.sort((a, b) => (a.folderName < b.folderName ? -1 : a.folderName > b.folderName ? 1 : 0));
  result.sizeOnDisk = result.repos.reduce((sum, repo) => sum + repo.sizeOnDisk, 0);
  return result;
}

const PARALLEL_MIN_REPOS = 32;

function canUseWorkers(): boolean {
  // Under the test runner this file is TypeScript, which a worker cannot load.
  return import.meta.url.endsWith('.js');
}
