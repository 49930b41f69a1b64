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
 * The walk uses synchronous fs calls on purpose: a scan is tens of thousands
 * of readlink/lstat calls, and promise overhead made it 10x slower. The
 * server runs scans through `scanCacheInWorker` so its event loop never waits.
 */
import { lstatSync, readdirSync, readlinkSync, statSync, type Dirent, type Stats } from 'node:fs';
import { dirname, isAbsolute, join, resolve, sep } from 'node:path';
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { parseRepoFolderName, type RepoType } from './repoId.js';
import { readRefsSync } from './readRefs.js';
import { isCommitHash } from './revision.js';
import { HUBCACHE_DIR_NAME, LOCKS_DIR_NAME } from './repoPaths.js';
import { linkedBlob, linkedFolderWarnings } from './linkedEntries.js';

export type CacheWarningCode =
  | 'dangling-link'
  | 'absolute-link'
  | 'link-outside-repo'
  | 'ref-missing-snapshot'
  | 'bad-ref'
  | 'stray-entry'
  | 'bad-folder'
  | 'unreadable'
  /** blobs/, snapshots/ or refs/ is a link (see linkedEntries). */
  | 'linked-folder'
  /** A blob that is a link; it counts as the blob when it resolves to a file (see linkedEntries). */
  | 'linked-blob';

export interface CacheWarning {
  code: CacheWarningCode;
  path: string;
  message: string;
}

export interface CachedFile {
  /** Path inside the snapshot, with "/" separators. */
  path: string;
  snapshotPath: string;
  /** Where the bytes are: the blob for links, the file itself for the copy layout; undefined when dangling. */
  blobPath: string | undefined;
  /** The blob's name (its etag) for links into blobs/. */
  blobName: string | undefined;
  layout: 'symlink' | 'copy';
  size: number;
  lastAccessed: number;
  lastModified: number;
  /** Set when this file has a problem (see the repo's warnings for details). */
  problem: CacheWarningCode | undefined;
}

export interface CachedRevision {
  commit: string;
  refs: string[];
  snapshotPath: string;
  /** Every file; empty when the scan was asked for `detail: 'summary'`. */
  files: CachedFile[];
  /** Number of files in the snapshot (also in summary scans). */
  nbFiles: number;
  /** Sum of the unique blobs of this revision. */
  sizeOnDisk: number;
  lastModified: number;
}

export interface IncompleteFile {
  path: string;
  bytes: number;
  kind: 'incomplete' | 'downloadInProgress';
  lastModified: number;
}

export interface CachedRepo {
  repoType: RepoType;
  repoId: string;
  folderName: string;
  repoPath: string;
  refs: Record<string, string>;
  revisions: CachedRevision[];
  /** Sum of unique blobs linked from any snapshot (huggingface_hub's size_on_disk). */
  sizeOnDisk: number;
  /** Number of unique blobs linked from any snapshot (huggingface_hub's nb_files). */
  nbFiles: number;
  /** Blobs that no snapshot links to (gc material). */
  orphanBlobs: { count: number; bytes: number };
  incomplete: { files: IncompleteFile[]; bytes: number };
  lastAccessed: number;
  lastModified: number;
  warnings: CacheWarning[];
}

export interface CacheScan {
  cacheDir: string;
  exists: boolean;
  repos: CachedRepo[];
  /** Problems not tied to a repo (odd folders at the root). */
  warnings: CacheWarning[];
  sizeOnDisk: number;
}

const IGNORED_NAMES = new Set(['.DS_Store']);
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
   * Worker threads to run the walk on. Default: 2 for a summary scan of a
   * big cache (the kernel's path walks dominate and split well over cores),
   * else 0 (this thread). A full file list is slower to clone back from a
   * worker than to build here.
   */
  threads?: number;
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
  const defaultThreads = summary && jobs.length >= PARALLEL_MIN_REPOS ? Math.min(2, availableParallelism()) : 0;
  const threads = canUseWorkers() ? Math.min(params.threads ?? defaultThreads, jobs.length) : 0;
  result.repos = threads > 0 ? await scanReposInWorkers({ jobs, threads, summary }) : scanRepos({ jobs, summary });
  result.repos.sort((a, b) => (a.folderName < b.folderName ? -1 : a.folderName > b.folderName ? 1 : 0));
  result.sizeOnDisk = result.repos.reduce((sum, repo) => sum + repo.sizeOnDisk, 0);
  return result;
}

export interface RepoJob {
  repoPath: string;
  folderName: string;
  repoType: RepoType;
  repoId: string;
}

const PARALLEL_MIN_REPOS = 32;

/** Scans repo folders synchronously; the worker entry point calls this. */
export function scanRepos(params: { jobs: RepoJob[]; summary?: boolean }): CachedRepo[] {
  return params.jobs.map((job) => {
    const repo = scanRepo(job);
    if (params.summary) for (const revision of repo.revisions) revision.files = [];
    return repo;
  });
}

function canUseWorkers(): boolean {
  // Under the test runner this file is TypeScript, which a worker cannot load.
  return import.meta.url.endsWith('.js');
}

async function scanReposInWorkers(params: { jobs: RepoJob[]; threads: number; summary: boolean }): Promise<CachedRepo[]> {
  const chunks: RepoJob[][] = Array.from({ length: params.threads }, () => []);
  params.jobs.forEach((job, i) => (chunks[i % params.threads] as RepoJob[]).push(job));
  const url = new URL('./scanWorker.js', import.meta.url);
  const parts = await Promise.all(
    chunks.map(
      (jobs) =>
        new Promise<CachedRepo[]>((resolveChunk, reject) => {
          const worker = new Worker(url, { workerData: { jobs, summary: params.summary } });
          worker.once('message', (repos: CachedRepo[]) => {
            resolveChunk(repos);
            void worker.terminate();
          });
          worker.once('error', reject);
        }),
    ),
  );
  return parts.flat();
}

interface BlobEntry {
  stats: Stats;
}

function scanRepo(params: RepoJob): CachedRepo {
  const { repoPath } = params;
  const blobsDir = join(repoPath, 'blobs');
  const snapshotsDir = join(repoPath, 'snapshots');
  const warnings: CacheWarning[] = linkedFolderWarnings({ dirs: [blobsDir, snapshotsDir, join(repoPath, 'refs')] });
  const blobs = readBlobs({ blobsDir, warnings });
  const refsRead = readRefsSync({ refsDir: join(repoPath, 'refs') });
  const snapshotEntries = readDirOrEmpty({ dir: snapshotsDir, warnings });
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
  const copyStats = new Map<string, Stats>();
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
      const files: CachedFile[] = [];
      scanSnapshotDir({ dir: snapshotPath, prefix: '', repoPath, blobsDir, blobs, copyStats, files, warnings });
      // Plain code-unit order: localeCompare cost more than the whole walk on 20k files.
      files.sort((a, b) => byCodeUnits(a.path, b.path));
      const unique = new Map<string, number>();
      let lastModified = 0;
      for (const file of files) {
        if (file.blobPath && !file.problem) unique.set(file.blobPath, file.size);
        if (file.blobPath) lastModified = Math.max(lastModified, file.lastModified);
      }
      if (files.length === 0 || lastModified === 0) {
        lastModified = statSync(snapshotPath, { throwIfNoEntry: false })?.mtimeMs ?? 0;
      }
      revisions.push({
        commit: entry.name,
        refs: (refsByCommit.get(entry.name) ?? []).sort(),
        snapshotPath,
        files,
        nbFiles: files.length,
        sizeOnDisk: sum(unique.values()),
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
  const used = new Map<string, { size: number; atime: number; mtime: number }>();
  for (const revision of revisions) {
    for (const file of revision.files) {
      if (file.blobPath && !file.problem) used.set(file.blobPath, { size: file.size, atime: file.lastAccessed, mtime: file.lastModified });
    }
  }
  let orphanCount = 0;
  let orphanBytes = 0;
  for (const [name, blob] of blobs.complete) {
    if (!used.has(`${blobsDir}/${name}`)) {
      orphanCount += 1;
      orphanBytes += blob.stats.size;
    }
  }
  let lastAccessed = 0;
  let lastModified = 0;
  for (const blob of used.values()) {
    lastAccessed = Math.max(lastAccessed, blob.atime);
    lastModified = Math.max(lastModified, blob.mtime);
  }
  if (used.size === 0) {
    const repoStats = statSync(repoPath, { throwIfNoEntry: false });
    lastAccessed = repoStats?.atimeMs ?? 0;
    lastModified = repoStats?.mtimeMs ?? 0;
  }

  return {
    repoType: params.repoType,
    repoId: params.repoId,
    folderName: params.folderName,
    repoPath,
    refs: Object.fromEntries([...refsRead.refs].sort(([a], [b]) => byCodeUnits(a, b))),
    revisions,
    sizeOnDisk: sum([...used.values()].map((b) => b.size)),
    nbFiles: used.size,
    orphanBlobs: { count: orphanCount, bytes: orphanBytes },
    incomplete: { files: blobs.incomplete, bytes: sum(blobs.incomplete.map((f) => f.bytes)) },
    lastAccessed,
    lastModified,
    warnings,
  };
}

function readDirOrEmpty(params: { dir: string; warnings: CacheWarning[] }): Dirent[] {
  try {
    return readdirSync(params.dir, { withFileTypes: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') params.warnings.push({ code: 'unreadable', path: params.dir, message: `cannot read: ${(err as Error).message}` });
    return [];
  }
}

function readBlobs(params: {
  blobsDir: string;
  warnings: CacheWarning[];
}): { complete: Map<string, BlobEntry>; incomplete: IncompleteFile[] } {
  const complete = new Map<string, BlobEntry>();
  const incomplete: IncompleteFile[] = [];
  const entries = readDirOrEmpty({ dir: params.blobsDir, warnings: params.warnings });
  entries.forEach((entry) => {
      const path = `${params.blobsDir}/${entry.name}`;
      let stats: Stats;
      try {
        stats = lstatSync(path);
      } catch {
        // Removed between readdir and lstat (a concurrent gc or a finished download): nothing to report.
        return;
      }
      if (entry.name.endsWith('.incomplete') || entry.name.endsWith('.downloadInProgress')) {
        incomplete.push({
          path,
          bytes: stats.size,
          kind: entry.name.endsWith('.incomplete') ? 'incomplete' : 'downloadInProgress',
          lastModified: stats.mtimeMs,
        });
        return;
      }
      if (stats.isSymbolicLink()) {
        const target = linkedBlob({ path, warnings: params.warnings });
        if (target) complete.set(entry.name, { stats: target });
        return;
      }
      if (!stats.isFile()) {
        params.warnings.push({ code: 'stray-entry', path, message: 'blobs/ should hold only regular files' });
        return;
      }
      complete.set(entry.name, { stats });
    });
  incomplete.sort((a, b) => byCodeUnits(a.path, b.path));
  return { complete, incomplete };
}

function scanSnapshotDir(params: {
  dir: string;
  prefix: string;
  repoPath: string;
  blobsDir: string;
  blobs: { complete: Map<string, BlobEntry> };
  copyStats: Map<string, Stats>;
  files: CachedFile[];
  warnings: CacheWarning[];
}): void {
  const entries = readDirOrEmpty({ dir: params.dir, warnings: params.warnings });
  entries.forEach((entry) => {
      if (IGNORED_NAMES.has(entry.name)) return;
      const snapshotPath = `${params.dir}/${entry.name}`;
      const relPath = params.prefix ? `${params.prefix}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        scanSnapshotDir({ ...params, dir: snapshotPath, prefix: relPath });
        return;
      }
      if (entry.isSymbolicLink()) {
        params.files.push(describeLink({ snapshotPath, relPath, blobsDir: params.blobsDir, blobs: params.blobs, warnings: params.warnings }));
        return;
      }
      if (entry.isFile()) {
        // The no-symlink layout (Windows, some network filesystems): the snapshot file holds the bytes.
        let stats = params.copyStats.get(snapshotPath);
        if (!stats) {
          stats = lstatSync(snapshotPath, { throwIfNoEntry: false });
          if (!stats) return;
          params.copyStats.set(snapshotPath, stats);
        }
        params.files.push({
          path: relPath,
          snapshotPath,
          blobPath: snapshotPath,
          blobName: undefined,
          layout: 'copy',
          size: stats.size,
          lastAccessed: stats.atimeMs,
          lastModified: stats.mtimeMs,
          problem: undefined,
        });
        return;
      }
      params.warnings.push({ code: 'stray-entry', path: snapshotPath, message: 'not a file, folder or link' });
    });
}

/**
 * Fast path for the link every writer makes (`../../blobs/<etag>`, one more
 * `../` per subfolder): plain string checks instead of path.resolve, which
 * dominated the scan's JavaScript time on 20k links.
 */
function resolveLinkTarget(params: { snapshotPath: string; relPath: string; target: string; blobsDir: string }): string {
  const { target, relPath } = params;
  let depth = 2;
  for (let i = 0; i < relPath.length; i++) if (relPath.charCodeAt(i) === 47) depth += 1;
  const prefix = '../'.repeat(depth) + 'blobs/';
  if (target.startsWith(prefix)) {
    const name = target.slice(prefix.length);
    if (name.length > 0 && !name.includes('/') && name !== '.' && name !== '..') return `${params.blobsDir}/${name}`;
  }
  return resolve(dirname(params.snapshotPath), target);
}

function describeLink(params: {
  snapshotPath: string;
  relPath: string;
  blobsDir: string;
  blobs: { complete: Map<string, BlobEntry> };
  warnings: CacheWarning[];
}): CachedFile {
  const { snapshotPath, relPath, blobsDir } = params;
  const base: CachedFile = {
    path: relPath,
    snapshotPath,
    blobPath: undefined,
    blobName: undefined,
    layout: 'symlink',
    size: 0,
    lastAccessed: 0,
    lastModified: 0,
    problem: undefined,
  };
  let target: string;
  try {
    target = readlinkSync(snapshotPath);
  } catch {
    return { ...base, problem: 'dangling-link' };
  }
  const resolved = resolveLinkTarget({ snapshotPath, relPath, target, blobsDir });
  const inBlobs = dirname(resolved) === blobsDir && !resolved.slice(blobsDir.length + 1).includes(sep);
  if (!inBlobs) {
    params.warnings.push({
      code: 'link-outside-repo',
      path: snapshotPath,
      message: `link points outside this repo's blobs/ (${target})`,
    });
    return { ...base, problem: 'link-outside-repo' };
  }
  const blobName = resolved.slice(blobsDir.length + 1);
  const blob = params.blobs.complete.get(blobName);
  if (!blob) {
    params.warnings.push({ code: 'dangling-link', path: snapshotPath, message: `link target blobs/${blobName} is missing` });
    return { ...base, blobName, problem: 'dangling-link' };
  }
  let problem: CacheWarningCode | undefined;
  if (isAbsolute(target)) {
    // Works here, but breaks as soon as the volume is mounted at another path.
    params.warnings.push({ code: 'absolute-link', path: snapshotPath, message: `absolute link (${target}); other mounts of this cache will not resolve it` });
    problem = undefined;
  }
  return {
    ...base,
    blobPath: resolved,
    blobName,
    size: blob.stats.size,
    lastAccessed: blob.stats.atimeMs,
    lastModified: blob.stats.mtimeMs,
    problem,
  };
}

function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function sum(values: Iterable<number>): number {
  let total = 0;
  for (const v of values) total += v;
  return total;
}
