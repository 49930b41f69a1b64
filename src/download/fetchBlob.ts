/**
 * The verified-commit path for one blob whose metadata is known: lock the etag -> blob already
 * there? -> resume or start a partial -> transfer + hash -> verify -> atomic rename into blobs/
 * -> link the snapshot file -> ref. `downloadFile` (after its HEAD) and the mirror's fills both
 * come through here, so there is one way a blob enters the cache.
 * The lock only saves bandwidth; correctness comes from verifying before the rename.
 */
import { chmod, mkdir, rename, stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { randomBytes } from 'node:crypto';
import { HubcacheError, fromSystemError, isHubcacheError } from '../errors.js';
import { hashAlgorithmForBlobName } from '../cache/etag.js';
import { ensureCachedirTag } from '../cache/ensureCachedirTag.js';
import { freshFileMode } from '../cache/freshFileMode.js';
import { acquireLock, type HeldLock, type LockHolder } from '../cache/lock.js';
import { formatRepoRef, type RepoRef } from '../cache/repoId.js';
import { repoPaths } from '../cache/repoPaths.js';
import { adoptPartial, partialStatePath } from './adoptPartial.js';
import { linkCachedBlob } from './linkCachedBlob.js';
import { transferBlob } from './transferBlob.js';

export interface FetchBlobParams extends RepoRef {
  cacheDir: string;
  /** The revision asked for; its ref is pointed at `commit` once the snapshot has the file. */
  revision: string;
  commit: string;
  path: string;
  etag: string;
  size: number;
  /** Where the bytes are (the CDN URL for LFS files). */
  url: string;
  /** Sent only to `url`'s own origin (never to a CDN on another host). */
  token?: string | undefined;
  connections?: number;
  signal?: AbortSignal | undefined;
  stallTimeoutMs?: number;
  retries?: number;
  lockTimeoutMs?: number;
  /** Downloads whose bytes do not match the etag before giving up (default 2). */
  integrityAttempts?: number;
  onStart?: (info: { size: number; resumedFrom: number }) => void;
  onReceived?: (bytes: number) => void;
  onRetry?: (info: { attempt: number; delayMs: number; message: string }) => void;
  onWaitingLock?: (info: { holders: LockHolder[]; waitedMs: number }) => void;
  onWarning?: (message: string) => void;
  /** The partial file being written now (readers follow it while it fills). */
  onPartial?: (partialPath: string) => void;
  /** Leading bytes of that partial that are on disk. */
  onWritten?: (bytes: number) => void;
}

export interface FetchBlobResult {
  /** Body bytes received in this call (0 when another process finished the blob meanwhile). */
  bytesDownloaded: number;
}

export async function fetchBlob(params: FetchBlobParams): Promise<FetchBlobResult> {
  const paths = repoPaths(params);
  const label = `${formatRepoRef(params)}/${params.path}`;
  const blobPath = paths.blob(params.etag);
  try {
    await mkdir(paths.blobsDir, { recursive: true });
    await ensureCachedirTag({ cacheDir: params.cacheDir });
  } catch (err) {
    throw fromSystemError({ err, path: paths.repoDir, action: `prepare the cache for ${label}` });
  }
  let lock: HeldLock;
  try {
    lock = await acquireLock({
      path: paths.lock(params.etag),
      ...(params.lockTimeoutMs !== undefined ? { timeoutMs: params.lockTimeoutMs } : {}),
      signal: params.signal,
      onWait: (info) => params.onWaitingLock?.(info),
    });
  } catch (err) {
    throw fromSystemError({ err, path: paths.lock(params.etag), action: `lock ${label}` });
  }
  try {
    // Whoever held the lock may have just finished this very blob.
    let bytesDownloaded = 0;
    if (!(await hasBlob({ blobPath, size: params.size }))) bytesDownloaded = await fetchVerified({ params, blobPath, label });
    else params.onWritten?.(params.size);
    await linkCachedBlob({ ...params });
    return { bytesDownloaded };
  } finally {
    await lock.release();
  }
}

export async function hasBlob(params: { blobPath: string; size: number }): Promise<boolean> {
  const stats = await stat(params.blobPath).catch(() => undefined);
  // A blob of the wrong size is damage (truncated by a crash of a tool that does not verify):
  // download again and let the verified rename replace it.
  return stats !== undefined && stats.isFile() && stats.size === params.size;
}

async function fetchVerified(args: { params: FetchBlobParams; blobPath: string; label: string }): Promise<number> {
  const { params, blobPath, label } = args;
  const paths = repoPaths(params);
  const algorithm = hashAlgorithmForBlobName({ name: params.etag });
  if (!algorithm) params.onWarning?.(`etag "${params.etag}" is not a sha256 or git-sha1: only the size can be checked`);
  const attempts = params.integrityAttempts ?? 2;
  let received = 0;
  for (let attempt = 1; ; attempt++) {
    const partialPath = `${blobPath}.${randomBytes(4).toString('hex')}.incomplete`;
    const statePath = partialStatePath({ cacheDir: params.cacheDir, repoFolder: paths.folderName, partialPath });
    const adopted =
      attempt === 1
        ? await adoptPartial({ cacheDir: params.cacheDir, repoFolder: paths.folderName, blobsDir: paths.blobsDir, etag: params.etag, size: params.size, partialPath })
        : undefined;
    params.onStart?.({ size: params.size, resumedFrom: adopted?.bytes ?? 0 });
    let digest: string | undefined;
    try {
      const result = await transferBlob({
        url: params.url,
        token: params.token,
        size: params.size,
        etag: params.etag,
        algorithm,
        partialPath,
        statePath,
        resume: adopted,
        connections: params.connections ?? 1,
        signal: params.signal,
        ...(params.stallTimeoutMs !== undefined ? { stallTimeoutMs: params.stallTimeoutMs } : {}),
        ...(params.retries !== undefined ? { retries: params.retries } : {}),
        onBytes: (bytes) => params.onReceived?.(bytes),
        onOpened: () => params.onPartial?.(partialPath),
        onWatermark: (bytes) => params.onWritten?.(bytes),
        ...(params.onRetry ? { onRetry: params.onRetry } : {}),
        what: `download ${label}`,
      });
      received += result.received;
      digest = result.digest;
    } catch (err) {
      // Keep the partial for a later resume unless it can never be used (full disk: free the space).
      if (isHubcacheError(err, 'E_DISK_FULL')) await discard({ partialPath, statePath });
      throw err;
    }
    if (digest === undefined || digest === params.etag) {
      await commitBlob({ partialPath, blobPath });
      await unlink(statePath).catch(() => undefined);
      return received;
    }
    await discard({ partialPath, statePath });
    if (attempt >= attempts) {
      throw new HubcacheError({
        code: 'E_INTEGRITY',
        message: `Downloaded ${label} ${attempts === 1 ? 'once' : `${attempts} times`} and its content does not match its etag (got ${algorithm} ${digest.slice(0, 16)}…, expected ${params.etag.slice(0, 16)}…)`,
        hint: 'A proxy or mirror may be altering files; nothing was written to the cache.',
        data: { expected: params.etag, actual: digest },
      });
    }
    params.onWarning?.(`content did not match etag ${params.etag.slice(0, 16)}…; discarded and downloading again`);
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
