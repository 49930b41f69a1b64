/**
 * Download-if-missing for many files of one revision: resolve the revision to
 * a commit once per call (the listing call does it; with explicit files, one
 * HEAD of the first file), filter, then fetch with bounded concurrency, each
 * through `downloadFile` by that commit, so every file comes from the same
 * commit even if the branch moves meanwhile. The branch's ref is written last,
 * and only once the snapshot holds every file.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { HubcacheError, isHubcacheError } from '../errors.js';
import { escapeInput } from '../quoteInput.js';
import { formatRepoRef, type RepoRef } from '../cache/repoId.js';
import { validateRepoFilePath } from '../cache/repoFilePath.js';
import { repoPaths } from '../cache/repoPaths.js';
import { readRef } from '../cache/readRefs.js';
import { DEFAULT_REVISION, isCommitHash, validateRevision } from '../cache/revision.js';
import { writeRef } from '../cache/writeRef.js';
import { getFileMetadata } from '../hub/getFileMetadata.js';
import { getRepoInfo } from '../hub/getRepoInfo.js';
import { withRetries } from '../hub/withRetries.js';
import { downloadFile, removedMeanwhile, resolves, type DownloadEvent, type DownloadFileResult } from './downloadFile.js';
import { checkCachedSnapshot } from './checkCachedSnapshot.js';
import { filterByGlobs } from './matchGlobs.js';

export interface DownloadRepoParams extends RepoRef {
  cacheDir: string;
  endpoint: string;
  token?: string | undefined;
  offline?: boolean;
  revision?: string;
  /** Explicit files; when given, no listing call is made. */
  files?: string[];
  include?: string[];
  exclude?: string[];
  maxWorkers?: number;
  connections?: number;
  signal?: AbortSignal | undefined;
  stallTimeoutMs?: number;
  retries?: number;
  /** How long a metadata call may stay unanswered (config.metadataTimeoutMs). */
  metadataTimeoutMs?: number | undefined;
  /** Called once the file list and sizes are known (for a total progress bar). */
  onPlan?: (plan: { commit: string | undefined; files: Array<{ path: string; size: number | undefined }> }) => void;
  onEvent?: (event: DownloadEvent) => void;
}

export interface DownloadRepoResult {
  /** The snapshot folder. */
  path: string;
  commit: string;
  files: DownloadFileResult[];
  bytesDownloaded: number;
}

export async function downloadRepo(params: DownloadRepoParams): Promise<DownloadRepoResult> {
  const revision = params.revision ?? DEFAULT_REVISION;
  validateRevision({ revision });
  for (const file of params.files ?? []) validateRepoFilePath({ path: file });
  const paths = repoPaths(params);

  let commit: string | undefined = isCommitHash(revision) ? revision : undefined;
  let wanted: Array<{ path: string; size: number | undefined }>;
  if (params.files && params.files.length > 0) {
    wanted = params.files.map((path) => ({ path, size: undefined }));
    commit ??= await resolveCommitOnce({ params, revision, firstFile: params.files[0] as string });
  } else if (params.offline) {
    return offlineSnapshot({ params, revision, why: 'Offline' });
  } else {
    try {
      // With a cached snapshot at hand, a Hub out of reach is not waited for (see downloadFile).
      const hasFallback = await offlineSnapshot({ params, revision, why: 'probe' }).then(() => true, () => false);
      const info = await withRetries({ retries: params.retries ?? 3, signal: params.signal, hasFallback, fn: () => getRepoInfo({ ...params, revision }) });
      commit = info.commit;
      wanted = filterByGlobs({ paths: info.files.map((f) => f.path), ...(params.include ? { include: params.include } : {}), ...(params.exclude ? { exclude: params.exclude } : {}) }).map(
        (path) => ({ path, size: info.files.find((f) => f.path === path)?.size }),
      );
      if (wanted.length === 0) throw nothingMatched({ params, revision, commit: info.commit, listed: info.files.length });
    } catch (err) {
      if (isHubcacheError(err, 'E_NETWORK') || isHubcacheError(err, 'E_HTTP')) {
        // A partly cached snapshot is an error that names what is missing; no snapshot at all: the network error.
        const fallback = await offlineSnapshot({ params, revision, why: err.message }).catch((e: unknown) => (isHubcacheError(e) && e.data.missing ? e : undefined));
        if (fallback instanceof HubcacheError) throw fallback;
        if (fallback) {
          params.onEvent?.({ type: 'warning', path: '', message: `${err.message}; using the cached snapshot ${fallback.commit.slice(0, 12)}` });
          return fallback;
        }
      }
      throw err;
    }
  }
  params.onPlan?.({ commit, files: wanted });

  const results: DownloadFileResult[] = new Array(wanted.length);
  let next = 0;
  let failure: unknown;
  const controller = new AbortController();
  const onAbort = (): void => controller.abort(params.signal?.reason);
  params.signal?.addEventListener('abort', onAbort, { once: true });
  const workers = Math.max(1, Math.min(params.maxWorkers ?? 8, wanted.length));
  try {
    await Promise.all(
      Array.from({ length: workers }, async () => {
        while (next < wanted.length && failure === undefined) {
          const index = next++;
          const file = wanted[index] as { path: string };
          try {
            results[index] = await downloadFile({
              ...params,
              revision: commit ?? revision,
              path: file.path,
              signal: controller.signal,
              ...(params.onEvent ? { onEvent: params.onEvent } : {}),
            });
          } catch (err) {
            failure ??= err;
            controller.abort(err);
          }
        }
      }),
    );
  } finally {
    params.signal?.removeEventListener('abort', onAbort);
  }
  if (failure !== undefined) throw failure;
  const finalCommit = commit ?? results[0]?.commit;
  if (!finalCommit) throw nothingMatched({ params, revision, commit: undefined, listed: 0 });

  // A cleanup running meanwhile may have removed files fetched early in this call: fetch those
  // once more (by the same commit), and never report a snapshot with holes as complete.
  for (const [index, result] of results.entries()) {
    if (await resolves(result.path)) continue;
    params.onEvent?.({ type: 'warning', path: wanted[index]?.path ?? '', message: `${result.path} was removed by another process during the download; fetching it again` });
    results[index] = await downloadFile({ ...params, revision: finalCommit, path: (wanted[index] as { path: string }).path, ...(params.onEvent ? { onEvent: params.onEvent } : {}) });
  }
  const missing = [];
  for (const result of results) if (!(await resolves(result.path))) missing.push(result.path);
  if (missing.length > 0) throw removedMeanwhile({ params, paths: missing });

  // Only a ref to a snapshot that exists: a ref to a missing one makes huggingface_hub's scan reject the repo.
  const snapshot = paths.snapshot(finalCommit);
  if (revision !== finalCommit && (await stat(snapshot).then((st) => st.isDirectory(), () => false))) {
    await writeRef({ ...params, revision, commit: finalCommit }).catch(() => undefined);
  }
  return { path: snapshot, commit: finalCommit, files: results, bytesDownloaded: results.reduce((n, r) => n + r.bytesDownloaded, 0) };
}

/**
 * The commit a branch or tag names, asked once for a call with explicit files, so
 * that they all come from one commit (asking per file could mix two if the branch
 * moves meanwhile). Offline or unreachable: the commit the cached ref names, if any;
 * otherwise the revision itself, and each file reports why it cannot be had.
 */
async function resolveCommitOnce(args: { params: DownloadRepoParams; revision: string; firstFile: string }): Promise<string | undefined> {
  const { params, revision, firstFile } = args;
  const cachedRef = async (): Promise<string | undefined> => {
    const ref = await readRef({ refPath: repoPaths(params).ref(revision) }).catch(() => undefined);
    return ref !== undefined && isCommitHash(ref) ? ref : undefined;
  };
  if (params.offline) return cachedRef();
  try {
    const meta = await withRetries({ retries: params.retries ?? 3, signal: params.signal, fn: () => getFileMetadata({ ...params, revision, path: firstFile }) });
    return meta.commit;
  } catch (err) {
    if (isHubcacheError(err, 'E_NETWORK') || isHubcacheError(err, 'E_HTTP')) return cachedRef();
    // A missing first file is that file's error to report (downloadFile records its `.no_exist`
    // marker), and it fails the whole call, so no other file can come from another commit.
    if (isHubcacheError(err, 'E_ENTRY_NOT_FOUND')) return undefined;
    throw err;
  }
}

function nothingMatched(args: { params: DownloadRepoParams; revision: string; commit: string | undefined; listed: number }): HubcacheError {
  const { params, revision, commit, listed } = args;
  const filters = [...(params.include ?? []).map((g) => `--include ${g}`), ...(params.exclude ?? []).map((g) => `--exclude ${g}`)].join(' ');
  return new HubcacheError({
    code: 'E_ENTRY_NOT_FOUND',
    message: `No file of ${formatRepoRef(params)} at ${revision}${commit && commit !== revision ? ` (${commit.slice(0, 12)})` : ''} matches${filters ? ` ${filters}` : ''} (${listed} file(s) listed); nothing was downloaded and no ref was written`,
    hint: 'Check the --include/--exclude patterns (fnmatch: "*" crosses "/"); `hubcache download REPO FILE` names files exactly.',
    data: { repo: formatRepoRef(params), revision, ...(commit ? { commit } : {}), include: params.include ?? [], exclude: params.exclude ?? [], listed },
  });
}

async function offlineSnapshot(args: { params: DownloadRepoParams; revision: string; why: string }): Promise<DownloadRepoResult> {
  const { params, revision } = args;
  const paths = repoPaths(params);
  const commit = isCommitHash(revision) ? revision : await readRef({ refPath: paths.ref(revision) });
  const dir = commit && isCommitHash(commit) ? paths.snapshot(commit) : undefined;
  const exists = dir ? await stat(dir).then((s) => s.isDirectory(), () => false) : false;
  const check =
    commit && dir && exists
      ? checkCachedSnapshot({ snapshotDir: dir, treeListingPath: join(paths.repoDir, 'trees', `${commit}.json`), ...(params.include ? { include: params.include } : {}), ...(params.exclude ? { exclude: params.exclude } : {}) })
      : undefined;
  if (!commit || !dir || !check || (check.files.size === 0 && check.missing.length === 0)) {
    throw new HubcacheError({
      code: 'E_OFFLINE',
      message: `Offline: no cached snapshot of ${formatRepoRef(params)} at revision ${revision}`,
      hint: 'Download it once with network access, or use `hubcache ls --revisions` to see what is cached.',
      data: { repo: formatRepoRef(params), revision },
    });
  }
  if (check.missing.length > 0) {
    // The cached files stay where they are (nothing is removed); the caller learns what is not there.
    const shown = check.missing.slice(0, 10).map((p) => escapeInput(p, 200));
    throw new HubcacheError({
      code: 'E_NOT_CACHED',
      message:
        `${args.why}: the cached snapshot of ${formatRepoRef(params)} at ${revision} (${commit.slice(0, 12)}) lacks ${check.missing.length} file(s): ` +
        `${shown.join(', ')}${check.missing.length > shown.length ? `, and ${check.missing.length - shown.length} more` : ''}`,
      hint: `The ${check.files.size} cached file(s) are in ${dir}; run again with network access to fetch the rest.`,
      data: { repo: formatRepoRef(params), revision, commit, path: dir, missing: check.missing, cached: [...check.files.keys()].sort() },
    });
  }
  const files = [...check.files].map(([path, size]) => ({ path: paths.snapshotFile(commit, path), commit, etag: undefined, size, fromCache: true, bytesDownloaded: 0 }));
  return { path: dir, commit, files, bytesDownloaded: 0 };
}
