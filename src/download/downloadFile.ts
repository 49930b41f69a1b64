/**
 * Download-if-missing for one file, end to end:
 *   cache hit by commit (no network) -> HEAD (revision -> commit, etag, size)
 *   -> pointer or blob already there? -> lock the blob -> resume or start a
 *   partial -> stream + hash -> verify size and hash -> chmod -> atomic
 *   rename into blobs/ -> relative link -> ref.
 * Everything from the lock on is fetchBlob's (shared with the mirror's fills).
 * A network failure falls back to the cached copy when there is one.
 */
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { HubcacheError, isHubcacheError } from '../errors.js';
import type { LockHolder } from '../cache/lockHolders.js';
import { recordAccess } from '../cache/accessLog.js';
import { lookupCachedFile } from '../cache/resolveCachedFile.js';
import { formatRepoRef, type RepoRef } from '../cache/repoId.js';
import { validateRepoFilePath } from '../cache/repoFilePath.js';
import { repoPaths } from '../cache/repoPaths.js';
import { DEFAULT_REVISION, isCommitHash, validateRevision } from '../cache/revision.js';
import { writeRef } from '../cache/writeRef.js';
import { getFileMetadata, type FileMetadata } from '../hub/getFileMetadata.js';
import { withRetries } from '../hub/withRetries.js';
import { fetchBlob, isFileOfSize } from './fetchBlob.js';

export type DownloadEvent =
  | { type: 'start'; path: string; size: number; resumedFrom: number }
  | { type: 'progress'; path: string; bytes: number }
  | { type: 'waiting-lock'; path: string; holders: LockHolder[]; waitedMs: number }
  | { type: 'retry'; path: string; attempt: number; delayMs: number; message: string }
  | { type: 'done'; path: string; fromCache: boolean }
  | { type: 'warning'; path: string; message: string };

export interface DownloadFileParams extends RepoRef {
  cacheDir: string;
  endpoint: string;
  token?: string | undefined;
  offline?: boolean;
  revision?: string;
  path: string;
  /** Parallel ranged streams for big files (default 1; at most one per 64 MiB). */
  connections?: number;
  signal?: AbortSignal | undefined;
  stallTimeoutMs?: number;
  retries?: number;
  /** How long the HEAD may stay unanswered (config.metadataTimeoutMs: HF_HUB_ETAG_TIMEOUT, default 10 s). */
  metadataTimeoutMs?: number | undefined;
  lockTimeoutMs?: number;
  /** Known metadata (from a repo listing pass) to skip nothing but naming; the HEAD still runs unless the revision is a commit and the file is cached. */
  onEvent?: (event: DownloadEvent) => void;
}

export interface DownloadFileResult {
  /** Absolute snapshot path (what users and MODEL_PATH use). */
  path: string;
  commit: string;
  etag: string | undefined;
  size: number;
  /** True when no file bytes crossed the network. */
  fromCache: boolean;
  /** Body bytes received in this call. */
  bytesDownloaded: number;
}

/**
 * One stream by default: the hash can only follow the contiguous prefix, so with several
 * streams most of the hashing waits for the first one to finish (measured: 0.3-0.9 s after
 * the last byte per GiB, against ~0 with one). More streams help on links where one TCP
 * stream is slow (high latency, per-connection throttling): `--connections N`.
 */
export const DEFAULT_CONNECTIONS = 1;

export async function downloadFile(params: DownloadFileParams): Promise<DownloadFileResult> {
  let result = await downloadFileOnce(params);
  // A cleanup (evict, rm, another tool) may remove the file between our link and our caller
  // using it: never report a path that is not there. Fetch once more, then give up naming it.
  if (!(await resolves(result.path))) {
    params.onEvent?.({ type: 'warning', path: params.path, message: `${result.path} was removed by another process just after it was downloaded; fetching it again` });
    result = await downloadFileOnce({ ...params, revision: result.commit });
    if (!(await resolves(result.path))) throw removedMeanwhile({ params, paths: [result.path] });
  }
  // A hint for `evict` (least recently used first); never needed for correctness, never fails a download.
  await recordAccess({ cacheDir: params.cacheDir, repoFolder: repoPaths(params).folderName, commit: result.commit });
  return result;
}

/** Whether a snapshot path leads to a file (a link is followed to its blob). */
export async function resolves(path: string): Promise<boolean> {
  return stat(path).then((s) => s.isFile(), () => false);
}

/** The error for files another process removed right after we put them in place, twice. */
export function removedMeanwhile(args: { params: RepoRef; paths: string[] }): HubcacheError {
  const { params, paths } = args;
  return new HubcacheError({
    code: 'E_NOT_CACHED',
    message: `${formatRepoRef(params)}: removed from the cache by another process right after download, twice: ${paths.slice(0, 5).join(', ')}${paths.length > 5 ? ` and ${paths.length - 5} more` : ''}`,
    hint: 'A cleanup (hubcache evict/rm/prune, a cron job) is removing what this download fetches; pin the revision (--keep, the manifest) or run the download again once it is done.',
    data: { repo: formatRepoRef(params), paths },
  });
}

async function downloadFileOnce(params: DownloadFileParams): Promise<DownloadFileResult> {
  const revision = params.revision ?? DEFAULT_REVISION;
  validateRevision({ revision });
  validateRepoFilePath({ path: params.path });
  const paths = repoPaths(params);
  const label = `${formatRepoRef(params)}/${params.path}`;
  const emit = (event: DownloadEvent): void => params.onEvent?.(event);

  // A commit never moves: if the file is here, nothing needs asking.
  if (isCommitHash(revision)) {
    const cached = await lookupCachedFile({ ...params, revision });
    if (cached.status === 'found') {
      emit({ type: 'done', path: params.path, fromCache: true });
      return { path: cached.path, commit: cached.commit, etag: undefined, size: cached.size, fromCache: true, bytesDownloaded: 0 };
    }
  }
  if (params.offline) return fromCacheOrFail({ params, revision, label, reason: 'offline' });

  // Looked up first (no network): with a copy at hand, a Hub out of reach is not waited for
  // through retries, so a container start with a cached model takes seconds, not minutes.
  const cached = await lookupCachedFile({ ...params, revision });
  let meta: FileMetadata;
  try {
    meta = await withRetries({
      retries: params.retries ?? 3,
      signal: params.signal,
      hasFallback: cached.status === 'found',
      onRetry: (info) => emit({ type: 'retry', path: params.path, attempt: info.attempt, delayMs: info.delayMs, message: info.error.message }),
      fn: () => getFileMetadata({ ...params, revision, path: params.path, ...(params.metadataTimeoutMs !== undefined ? { timeoutMs: params.metadataTimeoutMs } : {}) }),
    });
  } catch (err) {
    if (isHubcacheError(err, 'E_ENTRY_NOT_FOUND')) {
      await recordAbsence({ params, revision, commit: err.data.repoCommit });
      throw err;
    }
    if (isHubcacheError(err, 'E_NETWORK') || isHubcacheError(err, 'E_HTTP')) {
      if (cached.status === 'found') {
        emit({ type: 'warning', path: params.path, message: `${err.message}; using the cached copy at ${cached.commit.slice(0, 12)}` });
        emit({ type: 'done', path: params.path, fromCache: true });
        return { path: cached.path, commit: cached.commit, etag: undefined, size: cached.size, fromCache: true, bytesDownloaded: 0 };
      }
    }
    throw err;
  }

  const pointer = paths.snapshotFile(meta.commit, params.path);
  // Everything in place: no lock, no write (a read-only cache works).
  if (await isFileOfSize({ path: pointer, size: meta.size })) {
    // Read-only caches must keep working: the ref update is best effort here.
    await writeRef({ ...params, revision, commit: meta.commit }).catch(() => undefined);
    emit({ type: 'done', path: params.path, fromCache: true });
    return { path: pointer, commit: meta.commit, etag: meta.etag, size: meta.size, fromCache: true, bytesDownloaded: 0 };
  }

  // Send the token to the bytes only if they are served by the host we addressed.
  const sameHost = new URL(meta.downloadUrl).origin === new URL(params.endpoint).origin;
  const fetched = await fetchBlob({
    ...params,
    revision,
    commit: meta.commit,
    etag: meta.etag,
    size: meta.size,
    url: meta.downloadUrl,
    token: sameHost ? params.token : undefined,
    connections: params.connections ?? DEFAULT_CONNECTIONS,
    onStart: (info) => emit({ type: 'start', path: params.path, ...info }),
    onReceived: (bytes) => emit({ type: 'progress', path: params.path, bytes }),
    onRetry: (info) => emit({ type: 'retry', path: params.path, ...info }),
    onWaitingLock: (info) => emit({ type: 'waiting-lock', path: params.path, ...info }),
    onWarning: (message) => emit({ type: 'warning', path: params.path, message }),
  });
  emit({ type: 'done', path: params.path, fromCache: fetched.fromCache });
  return { path: pointer, commit: meta.commit, etag: meta.etag, size: meta.size, fromCache: fetched.fromCache, bytesDownloaded: fetched.bytesDownloaded };
}

async function recordAbsence(args: { params: DownloadFileParams; revision: string; commit: unknown }): Promise<void> {
  const { params, revision, commit } = args;
  if (typeof commit !== 'string' || !isCommitHash(commit)) return;
  try {
    const marker = repoPaths(params).noExistFile(commit, params.path);
    await mkdir(dirname(marker), { recursive: true });
    await writeFile(marker, '', { flag: 'a' });
    // Only move the ref when the commit has a snapshot (see downloadFile on refs).
    if (await stat(repoPaths(params).snapshot(commit)).then(() => true, () => false)) await writeRef({ ...params, revision, commit });
  } catch {
    // Remembering an absence is an optimisation; a read-only cache simply asks again next time.
  }
}

async function fromCacheOrFail(args: { params: DownloadFileParams; revision: string; label: string; reason: 'offline' }): Promise<DownloadFileResult> {
  const { params, revision, label } = args;
  const cached = await lookupCachedFile({ ...params, revision });
  if (cached.status === 'found') {
    params.onEvent?.({ type: 'done', path: params.path, fromCache: true });
    return { path: cached.path, commit: cached.commit, etag: undefined, size: cached.size, fromCache: true, bytesDownloaded: 0 };
  }
  if (cached.status === 'known-absent') {
    throw new HubcacheError({
      code: 'E_ENTRY_NOT_FOUND',
      message: `${label} does not exist at ${revision} (recorded by an earlier download)`,
      data: { repo: formatRepoRef(params), path: params.path, revision },
    });
  }
  throw new HubcacheError({
    code: 'E_OFFLINE',
    message: `Offline mode: ${label} at revision ${revision} is not in the cache${cached.commit ? ` (revision ${revision} is ${cached.commit.slice(0, 12)}, but this file was never downloaded)` : ''}`,
    hint: 'Download it once with network access (unset HF_HUB_OFFLINE / drop --offline), or use `hubcache ls` to see what is cached.',
    data: { repo: formatRepoRef(params), path: params.path, revision },
  });
}
