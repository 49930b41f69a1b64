/**
 * Download-if-missing for one file, end to end:
 *   cache hit by commit (no network) -> HEAD (revision -> commit, etag, size)
 *   -> pointer or blob already there? -> lock the blob -> resume or start a
 *   partial -> stream + hash -> verify size and hash -> chmod -> atomic
 *   rename into blobs/ -> relative link -> ref.
 * The lock only saves bandwidth; correctness comes from verifying before the
 * rename. A network failure falls back to the cached copy when there is one.
 */
import { chmod, mkdir, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { randomBytes } from 'node:crypto';
import { HubcacheError, fromSystemError, isHubcacheError } from '../errors.js';
import { hashAlgorithmForBlobName } from '../cache/etag.js';
import { ensureCachedirTag } from '../cache/ensureCachedirTag.js';
import { freshFileMode } from '../cache/freshFileMode.js';
import { linkSnapshotFile } from '../cache/linkSnapshotFile.js';
import { acquireLock, type HeldLock } from '../cache/lock.js';
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
import { adoptPartial, partialStatePath } from './adoptPartial.js';
import { transferBlob } from './transferBlob.js';

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
  const blobPath = paths.blob(meta.etag);
  // Everything in place: no lock, no write (a read-only cache works).
  if (await snapshotFileReady({ pointer, size: meta.size })) {
    // Read-only caches must keep working: the ref update is best effort here.
    await writeRef({ ...params, revision, commit: meta.commit }).catch(() => undefined);
    emit({ type: 'done', path: params.path, fromCache: true });
    return { path: pointer, commit: meta.commit, etag: meta.etag, size: meta.size, fromCache: true, bytesDownloaded: 0 };
  }

  try {
    await mkdir(paths.blobsDir, { recursive: true });
    await ensureCachedirTag({ cacheDir: params.cacheDir });
  } catch (err) {
    throw fromSystemError({ err, path: paths.repoDir, action: `prepare the cache for ${label}` });
  }

  // Linking a blob that is already here and a cleanup deleting it exclude each other through the
  // blob's etag lock (huggingface_hub holds the same lock while it links): under the lock, a
  // blob we see stays until our link is made, and a cleanup re-reads the links once it holds it.
  let lock: HeldLock;
  try {
    lock = await acquireLock({
      path: paths.lock(meta.etag),
      ...(params.lockTimeoutMs !== undefined ? { timeoutMs: params.lockTimeoutMs } : {}),
      signal: params.signal,
      onWait: (info) => emit({ type: 'waiting-lock', path: params.path, holders: info.holders, waitedMs: info.waitedMs }),
    });
  } catch (err) {
    const typed = fromSystemError({ err, path: paths.lock(meta.etag), action: `lock ${label}` });
    // A read-only cache cannot hold a lock file: fine if another process linked the file meanwhile.
    if (isHubcacheError(typed, 'E_PERMISSION') && (await snapshotFileReady({ pointer, size: meta.size }))) {
      emit({ type: 'done', path: params.path, fromCache: true });
      return { path: pointer, commit: meta.commit, etag: meta.etag, size: meta.size, fromCache: true, bytesDownloaded: 0 };
    }
    throw typed;
  }
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        await mkdir(paths.blobsDir, { recursive: true });
        // The ref is written only once the snapshot has the file: a ref to a commit without a
        // snapshot makes huggingface_hub's cache scan reject the whole repo.
        // The blob may be here already (another revision has it, or whoever held the lock just finished it).
        const fromCache = await hasBlob({ blobPath, size: meta.size });
        const bytesDownloaded = fromCache ? 0 : await fetchVerifiedBlob({ params, meta, blobPath, label, emit });
        await linkSnapshotFile({ ...params, commit: meta.commit, path: params.path, etag: meta.etag });
        await writeRef({ ...params, revision, commit: meta.commit });
        emit({ type: 'done', path: params.path, fromCache });
        return { path: pointer, commit: meta.commit, etag: meta.etag, size: meta.size, fromCache, bytesDownloaded };
      } catch (err) {
        // A cleanup removed a folder it found empty (blobs/, snapshots/<commit>/, refs/) between our
        // mkdir and our use of it; nothing was half-written, so make it again and redo the step.
        if (!isVanishedFolder(err) || attempt >= VANISHED_FOLDER_RETRIES) throw err;
      }
    }
  } finally {
    await lock.release();
  }
}

/** Tries of the locked step when a folder it made disappears under it (a cleanup of empty folders). */
const VANISHED_FOLDER_RETRIES = 5;

function isVanishedFolder(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | null)?.code === 'ENOENT';
}

async function snapshotFileReady(params: { pointer: string; size: number }): Promise<boolean> {
  const stats = await stat(params.pointer).catch(() => undefined);
  return stats !== undefined && stats.isFile() && stats.size === params.size;
}

async function hasBlob(params: { blobPath: string; size: number }): Promise<boolean> {
  const stats = await stat(params.blobPath).catch(() => undefined);
  // A blob of the wrong size is damage (truncated by a crash of a tool that does not verify):
  // download again and let the verified rename replace it.
  return stats !== undefined && stats.isFile() && stats.size === params.size;
}

async function fetchVerifiedBlob(args: {
  params: DownloadFileParams;
  meta: FileMetadata;
  blobPath: string;
  label: string;
  emit: (event: DownloadEvent) => void;
}): Promise<number> {
  const { params, meta, blobPath, label, emit } = args;
  const paths = repoPaths(params);
  const algorithm = hashAlgorithmForBlobName({ name: meta.etag });
  if (!algorithm) emit({ type: 'warning', path: params.path, message: `etag "${meta.etag}" is not a sha256 or git-sha1: only the size can be checked` });
  // Send the token to the bytes only if they are served by the host we addressed.
  const sameHost = new URL(meta.downloadUrl).origin === new URL(params.endpoint).origin;
  let received = 0;
  for (let attempt = 1; ; attempt++) {
    const partialPath = `${blobPath}.${randomBytes(4).toString('hex')}.incomplete`;
    const statePath = partialStatePath({ cacheDir: params.cacheDir, repoFolder: paths.folderName, partialPath });
    const adopted =
      attempt === 1
        ? await adoptPartial({ cacheDir: params.cacheDir, repoFolder: paths.folderName, blobsDir: paths.blobsDir, etag: meta.etag, size: meta.size, partialPath })
        : undefined;
    emit({ type: 'start', path: params.path, size: meta.size, resumedFrom: adopted?.bytes ?? 0 });
    let digest: string | undefined;
    try {
      const result = await transferBlob({
        url: meta.downloadUrl,
        token: sameHost ? params.token : undefined,
        size: meta.size,
        etag: meta.etag,
        algorithm,
        partialPath,
        statePath,
        resume: adopted,
        connections: params.connections ?? DEFAULT_CONNECTIONS,
        signal: params.signal,
        ...(params.stallTimeoutMs !== undefined ? { stallTimeoutMs: params.stallTimeoutMs } : {}),
        ...(params.retries !== undefined ? { retries: params.retries } : {}),
        onBytes: (bytes) => emit({ type: 'progress', path: params.path, bytes }),
        onRetry: (info) => emit({ type: 'retry', path: params.path, ...info }),
        what: `download ${label}`,
      });
      received += result.received;
      digest = result.digest;
    } catch (err) {
      // Keep the partial for a later resume unless it can never be used (full disk: free the space).
      if (isHubcacheError(err, 'E_DISK_FULL')) await discard({ partialPath, statePath });
      throw err;
    }
    if (digest === undefined || digest === meta.etag) {
      await commitBlob({ partialPath, blobPath });
      await unlink(statePath).catch(() => undefined);
      return received;
    }
    await discard({ partialPath, statePath });
    if (attempt >= 2) {
      throw new HubcacheError({
        code: 'E_INTEGRITY',
        message: `Downloaded ${label} twice and its content does not match its etag both times (got ${algorithm} ${digest.slice(0, 16)}…, expected ${meta.etag.slice(0, 16)}…)`,
        hint: 'A proxy or mirror may be altering files; nothing was written to the cache.',
        data: { expected: meta.etag, actual: digest },
      });
    }
    emit({ type: 'warning', path: params.path, message: `content did not match etag ${meta.etag.slice(0, 16)}…; discarded and downloading again` });
  }
}

async function discard(params: { partialPath: string; statePath: string }): Promise<void> {
  await unlink(params.partialPath).catch(() => undefined);
  await unlink(params.statePath).catch(() => undefined);
}

async function commitBlob(params: { partialPath: string; blobPath: string }): Promise<void> {
  const mode = await freshFileMode({ dir: dirname(params.blobPath) });
  if (mode !== undefined) await chmod(params.partialPath, mode).catch(() => undefined);
  try {
    // The only way a file appears in blobs/: rename of a complete, verified partial.
    await rename(params.partialPath, params.blobPath);
  } catch (err) {
    throw fromSystemError({ err, path: params.blobPath, action: 'move the verified download into the cache' });
  }
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
