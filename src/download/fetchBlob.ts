/**
 * The one way a blob enters the cache and gets linked, once its metadata is known:
 *   lock the etag -> blob already there? -> else resume or start a partial -> transfer + hash
 *   -> verify -> atomic rename into blobs/ -> relative snapshot link -> ref.
 * `downloadFile` (after its HEAD) and the mirror's fills and links all come through here.
 *
 * Linking a blob that is already here and a cleanup deleting it exclude each other through the
 * blob's etag lock (huggingface_hub holds the same lock while it links): under the lock, a blob we
 * see stays until our link is made, and a cleanup re-reads the links once it holds it. Correctness
 * of the bytes comes from verifying before the rename, never from the lock.
 */
import { chmod, mkdir, rename, stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { randomBytes } from 'node:crypto';
import { HubcacheError, fromSystemError, isHubcacheError } from '../errors.js';
import { hashAlgorithmForBlobName } from '../cache/etag.js';
import { ensureCachedirTag } from '../cache/ensureCachedirTag.js';
import { freshFileMode } from '../cache/freshFileMode.js';
import { linkSnapshotFile } from '../cache/linkSnapshotFile.js';
import { acquireLock, type HeldLock } from '../cache/lock.js';
import type { LockHolder } from '../cache/lockHolders.js';
import { formatRepoRef, type RepoRef } from '../cache/repoId.js';
import { repoPaths } from '../cache/repoPaths.js';
import { writeRef } from '../cache/writeRef.js';
import { adoptPartial, partialStatePath } from './adoptPartial.js';
import { transferBlob } from './transferBlob.js';

export interface FetchBlobParams extends RepoRef {
  cacheDir: string;
  /** The revision asked for; its ref is pointed at `commit` once the snapshot has the file. */
  revision: string;
  commit: string;
  path: string;
  etag: string;
  size: number;
  /** Where the bytes are (the CDN URL for LFS files). Absent: link a blob that is here, never download (E_NOT_CACHED if it is gone). */
  url?: string | undefined;
  /** Sent only to `url` (the caller decides whether that host may see it). */
  token?: string | undefined;
  connections?: number;
  signal?: AbortSignal | undefined;
  stallTimeoutMs?: number;
  retries?: number;
  lockTimeoutMs?: number;
  /** Downloads whose bytes do not match the etag before giving up: 2 (default), or 1 for a mirror fill (its readers already hold bytes). */
  integrityAttempts?: 1 | 2;
  onStart?: (info: { size: number; resumedFrom: number }) => void;
  /** Body bytes received (negative after a restart from zero). */
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
  /** True when no body byte crossed the network (the blob was here, or another process just finished it). */
  fromCache: boolean;
  bytesDownloaded: number;
}

/** Tries of the locked step when a folder it made disappears under it (a cleanup of empty folders). */
const VANISHED_FOLDER_RETRIES = 5;

export async function fetchBlob(params: FetchBlobParams): Promise<FetchBlobResult> {
  const paths = repoPaths(params);
  const label = `${formatRepoRef(params)}/${params.path}`;
  const blobPath = paths.blob(params.etag);
  const pointer = paths.snapshotFile(params.commit, params.path);
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
    const typed = fromSystemError({ err, path: paths.lock(params.etag), action: `lock ${label}` });
    // A read-only cache cannot hold a lock file: fine if another process linked the file meanwhile.
    if (isHubcacheError(typed, 'E_PERMISSION') && (await isFileOfSize({ path: pointer, size: params.size }))) return { fromCache: true, bytesDownloaded: 0 };
    throw typed;
  }
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        await mkdir(paths.blobsDir, { recursive: true });
        // The blob may be here already (another revision has it, or whoever held the lock just finished it).
        const fromCache = await isFileOfSize({ path: blobPath, size: params.size });
        if (fromCache) params.onWritten?.(params.size);
        else if (params.url === undefined) throw notHere({ params, label });
        const bytesDownloaded = fromCache ? 0 : await fetchVerified({ params, url: params.url as string, blobPath, label });
        // The ref only once the snapshot has the file: a ref to a commit without a snapshot
        // makes huggingface_hub's cache scan reject the whole repo.
        await linkSnapshotFile({ ...params, commit: params.commit, path: params.path, etag: params.etag });
        await writeRef({ ...params, revision: params.revision, commit: params.commit });
        return { fromCache, bytesDownloaded };
      } catch (err) {
        // A cleanup removed a folder it found empty (blobs/, snapshots/<commit>/, refs/) between our
        // mkdir and our use of it; nothing was half-written, so make it again and redo the step.
        if ((err as NodeJS.ErrnoException | null)?.code !== 'ENOENT' || attempt >= VANISHED_FOLDER_RETRIES) throw err;
      }
    }
  } finally {
    await lock.release();
  }
}

export async function isFileOfSize(params: { path: string; size: number }): Promise<boolean> {
  const stats = await stat(params.path).catch(() => undefined);
  // A blob of the wrong size is damage (truncated by a crash of a tool that does not verify):
  // download again and let the verified rename replace it.
  return stats !== undefined && stats.isFile() && stats.size === params.size;
}

function notHere(args: { params: FetchBlobParams; label: string }): HubcacheError {
  return new HubcacheError({
    code: 'E_NOT_CACHED',
    message: `${args.label}: its blob ${args.params.etag.slice(0, 16)}… left the cache before it could be linked`,
    data: { repo: formatRepoRef(args.params), path: args.params.path, etag: args.params.etag },
  });
}

async function fetchVerified(args: { params: FetchBlobParams; url: string; blobPath: string; label: string }): Promise<number> {
  const { params, url, blobPath, label } = args;
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
        url,
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
        message: `Downloaded ${label} ${attempts === 1 ? 'and its content does not match its etag' : 'twice and its content does not match its etag both times'} (got ${algorithm} ${digest.slice(0, 16)}…, expected ${params.etag.slice(0, 16)}…)`,
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

/** Renames a complete, verified partial into blobs/ with the mode a fresh file gets there (also restore's commit step). */
export async function commitBlob(params: {
  partialPath: string;
  blobPath: string;
  /** freshFileMode of blobs/, when the caller already measured it (a restore commits thousands of blobs into one folder). */
  mode?: number | undefined;
}): Promise<void> {
  const mode = params.mode ?? (await freshFileMode({ dir: dirname(params.blobPath) }));
  if (mode !== undefined) await chmod(params.partialPath, mode).catch(() => undefined);
  try {
    // The only way a file appears in blobs/: rename of a complete, verified partial.
    await rename(params.partialPath, params.blobPath);
  } catch (err) {
    throw fromSystemError({ err, path: params.blobPath, action: 'move the verified download into the cache' });
  }
}
