/**
 * Puts a user's file into the cache as one repo file whose commit and etag are
 * known (from a HEAD, a listing, or the user's --sha256), as a download would:
 *
 *   check size -> stage (copy into a temp while hashing | hard-link as a temp, then hash)
 *   -> digest == etag? -> under the etag lock: rename the temp into blobs/ (unless the blob is
 *   there) -> fetchBlob with no url: the locked link step (snapshot link, then ref)
 *   -> move only: remove the source, if it is still the file that was staged.
 *
 * A blob never appears but by rename of a temp whose bytes were hashed; a wrong file is refused
 * before anything reaches blobs/, snapshots/ or refs/. A cleanup that removes the fresh blob (or
 * the temp) before it is linked costs one more staging from the source, which is still in place:
 * move removes it last.
 */
import { chmod, lstat, mkdir, realpath, rename, stat, unlink } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { relative, isAbsolute, resolve, sep } from 'node:path';
import { HubcacheError, fromSystemError, isHubcacheError } from '../errors.js';
import { hashAlgorithmForBlobName, type HashAlgorithm } from '../cache/etag.js';
import { ensureCachedirTag } from '../cache/ensureCachedirTag.js';
import { freshFileMode } from '../cache/freshFileMode.js';
import { acquireLock } from '../cache/lock.js';
import { formatRepoRef, type RepoRef } from '../cache/repoId.js';
import { repoPaths } from '../cache/repoPaths.js';
import { fetchBlob, isFileOfSize } from '../download/fetchBlob.js';
import { stageLocalFile, type StageHow, type StagedFile } from './stageLocalFile.js';

/** How the user's file becomes the blob: a copy (default), the file itself (move), or a second name of it (link). */
export type AdoptMode = 'copy' | 'move' | 'link';

/** Progress of the hashing (and copying) of one file. */
export interface AdoptProgressEvent {
  path: string;
  bytesDone: number;
  bytesTotal: number;
}

export interface AdoptLocalBlobParams extends RepoRef {
  cacheDir: string;
  /** The revision asked for: its ref is pointed at `commit` once the snapshot has the file (a commit: no ref). */
  revision: string;
  commit: string;
  /** The file's path in the repo. */
  path: string;
  /** The Hub's etag for the file: sha256 (LFS) or git-sha1, the blob's name. */
  etag: string;
  /** The Hub's size for the file; undefined when only the hash is known (--sha256). */
  size: number | undefined;
  /** The user's file. */
  source: string;
  mode: AdoptMode;
  lockTimeoutMs?: number;
  signal?: AbortSignal | undefined;
  onProgress?: ((event: AdoptProgressEvent) => void) | undefined;
  onWarning?: ((message: string) => void) | undefined;
}

export interface AdoptLocalBlobResult {
  /** Absolute snapshot path of the file, as `download` prints it. */
  snapshotPath: string;
  commit: string;
  etag: string;
  size: number;
  /** `adopted`: the file became the blob; `already-cached`: the cache held an identical blob, only the link was made. */
  blob: 'adopted' | 'already-cached';
  /** --move: the source was removed. */
  sourceRemoved: boolean;
  /** The blob is the source's inode (--link, and --move on one filesystem). */
  sharesInode: boolean;
}

/** Stagings of the source: the second one runs when a cleanup removed the temp or the fresh blob before it was linked. */
const ATTEMPTS = 2;

export async function adoptLocalBlob(params: AdoptLocalBlobParams): Promise<AdoptLocalBlobResult> {
  const paths = repoPaths(params);
  const label = `${formatRepoRef(params)}/${params.path}`;
  const snapshotPath = paths.snapshotFile(params.commit, params.path);
  const blobPath = paths.blob(params.etag);
  const algorithm = hashAlgorithmForBlobName({ name: params.etag });
  if (!algorithm) {
    throw new HubcacheError({
      code: 'E_INTEGRITY',
      message: `${label}: its etag "${params.etag.slice(0, 80)}" is not a sha256 or git-sha1, so a local file cannot be checked against it; nothing was written`,
      hint: 'Download the file instead (`hubcache download`), which can at least check its size.',
      data: { etag: params.etag },
    });
  }
  const sourceStats = await checkSource({ params, label });
  const size = params.size ?? sourceStats.size;

  for (let attempt = 1; ; attempt++) {
    const blobPresent = await isFileOfSize({ path: blobPath, size });
    const staged = await stage({ params, how: blobPresent ? 'hash-only' : params.mode === 'copy' ? 'copy' : 'link', algorithm, label });
    if (staged.digest !== params.etag) {
      if (staged.tempPath) await unlink(staged.tempPath).catch(() => undefined);
      throw mismatch({ params, label, algorithm, digest: staged.digest });
    }
    try {
      const fresh = staged.tempPath !== undefined ? await commitBlob({ params, tempPath: staged.tempPath, blobPath, size }) : false;
      await fetchBlob({ ...params, size, ...(params.lockTimeoutMs !== undefined ? { lockTimeoutMs: params.lockTimeoutMs } : {}) });
      const sourceRemoved = params.mode === 'move' ? await removeSource({ params, staged }) : false;
      const blobStats = await stat(blobPath).catch(() => undefined);
      const sharesInode = blobStats !== undefined && blobStats.dev === staged.sourceStats.dev && blobStats.ino === staged.sourceStats.ino;
      return { snapshotPath, commit: params.commit, etag: params.etag, size, blob: fresh ? 'adopted' : 'already-cached', sourceRemoved, sharesInode };
    } catch (err) {
      // Gone between staging and linking (a cleanup swept the temp or the unlinked blob): the
      // source is untouched, so stage it once more.
      const vanished = isHubcacheError(err, 'E_NOT_CACHED') || (err as NodeJS.ErrnoException | null)?.code === 'ENOENT';
      if (!vanished || attempt >= ATTEMPTS) throw fromSystemError({ err, path: blobPath, action: `put ${params.source} into the cache as ${label}` });
      params.onWarning?.(`${label}: removed by a cleanup before it was linked; adopting it again`);
    }
  }
}

/** The source must be a regular file (move and link: not a symlink), of the Hub's size; move never takes a file of the cache itself. */
async function checkSource(args: { params: AdoptLocalBlobParams; label: string }): Promise<Stats> {
  const { params, label } = args;
  const usage = (why: string, hint?: string): HubcacheError =>
    new HubcacheError({ code: 'E_USAGE', message: `Cannot adopt ${params.source} as ${label}: ${why}`, ...(hint ? { hint } : {}), data: { source: params.source } });
  const own = await lstat(params.source).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT' || err.code === 'ENOTDIR') throw usage('no such file');
    throw fromSystemError({ err, path: params.source, action: `read ${params.source}` });
  });
  if (own.isSymbolicLink() && params.mode !== 'copy') {
    throw usage(`it is a symbolic link, and --${params.mode} works on the file itself`, 'Give the path of the file the link points to, or use --copy.');
  }
  const stats = own.isSymbolicLink() ? await stat(params.source).catch(() => undefined) : own;
  if (!stats?.isFile()) throw usage(stats ? 'it is not a regular file' : 'it is a dangling symbolic link');
  if (params.size !== undefined && stats.size !== params.size) {
    throw new HubcacheError({
      code: 'E_INTEGRITY',
      message: `${params.source} is ${stats.size} bytes but ${label} is ${params.size} bytes at ${params.commit.slice(0, 12)}; nothing was written`,
      hint: 'Check the file and the revision (-r): the file must be the one the Hub has at that revision.',
      data: { source: params.source, expectedSize: params.size, actualSize: stats.size },
    });
  }
  if (params.mode === 'move') {
    const root = await realpath(params.cacheDir).catch(() => resolve(params.cacheDir));
    const rel = relative(root, await realpath(params.source));
    if (rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel))) {
      throw usage('it is inside the cache, and moving it would take it from whatever uses it there', 'Use --copy or --link for a file that is already in the cache.');
    }
  }
  return stats;
}

/**
 * Stages per mode; a move whose hard link is refused (another filesystem, or a file system or
 * kernel setting without hard links) copies instead, then removes the source once linked.
 */
async function stage(args: { params: AdoptLocalBlobParams; how: StageHow; algorithm: HashAlgorithm; label: string }): Promise<StagedFile> {
  const { params, algorithm, label } = args;
  const run = (how: StageHow): Promise<StagedFile> =>
    stageLocalFile({
      cacheDir: params.cacheDir,
      source: params.source,
      how,
      algorithm,
      label,
      signal: params.signal,
      onProgress: params.onProgress ? (event) => params.onProgress?.({ path: params.path, ...event }) : undefined,
    });
  try {
    return await run(args.how);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException | null)?.code;
    const noHardLink = code === 'EXDEV' || code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'EMLINK';
    if (args.how === 'link' && noHardLink && params.mode === 'move') return run('copy');
    if (args.how === 'link' && noHardLink) {
      throw new HubcacheError({
        code: 'E_USAGE',
        message: `Cannot hard-link ${params.source} into the cache as ${label}: ${code === 'EXDEV' ? 'it is on another filesystem than the cache' : `the file system refused (${code})`}; nothing was written`,
        hint: 'Use --copy (the default), or --move to hand the file over to the cache.',
        data: { source: params.source, errno: code },
        cause: err,
      });
    }
    throw fromSystemError({ err, path: params.source, action: `read ${params.source} into the cache as ${label}` });
  }
}

/**
 * The verified temp becomes the blob by rename, under the etag lock (so it excludes a cleanup
 * deleting that blob and a concurrent writer of it). Returns false when an identical blob was
 * already there (the temp is dropped). A linked source keeps its mode: it is also the user's file.
 */
async function commitBlob(args: { params: AdoptLocalBlobParams; tempPath: string; blobPath: string; size: number }): Promise<boolean> {
  const { params, tempPath, blobPath, size } = args;
  const paths = repoPaths(params);
  try {
    await mkdir(paths.blobsDir, { recursive: true });
    await ensureCachedirTag({ cacheDir: params.cacheDir });
    const lock = await acquireLock({ path: paths.lock(params.etag), ...(params.lockTimeoutMs !== undefined ? { timeoutMs: params.lockTimeoutMs } : {}), ...(params.signal ? { signal: params.signal } : {}) });
    try {
      if (await isFileOfSize({ path: blobPath, size })) {
        await unlink(tempPath).catch(() => undefined);
        return false;
      }
      if (params.mode !== 'link') {
        const mode = await freshFileMode({ dir: paths.blobsDir });
        if (mode !== undefined) await chmod(tempPath, mode).catch(() => undefined);
      }
      // The only way this file enters blobs/: rename of a complete temp whose bytes matched the etag.
      await rename(tempPath, blobPath);
      return true;
    } finally {
      await lock.release();
    }
  } catch (err) {
    await unlink(tempPath).catch(() => undefined);
    throw err;
  }
}

/** Removes the moved source, unless it was replaced meanwhile (then it is not the file that was adopted). */
async function removeSource(args: { params: AdoptLocalBlobParams; staged: StagedFile }): Promise<boolean> {
  const { params, staged } = args;
  const now = await lstat(params.source).catch(() => undefined);
  const same = now !== undefined && now.dev === staged.sourceStats.dev && now.ino === staged.sourceStats.ino && now.size === staged.sourceStats.size;
  if (!same) {
    params.onWarning?.(`${params.source} changed after it was adopted; it was left in place`);
    return false;
  }
  try {
    await unlink(params.source);
    return true;
  } catch (err) {
    params.onWarning?.(`${params.source} is in the cache, but removing it failed: ${(err as Error).message}`);
    return false;
  }
}

function mismatch(args: { params: AdoptLocalBlobParams; label: string; algorithm: HashAlgorithm; digest: string }): HubcacheError {
  const { params, label, algorithm, digest } = args;
  return new HubcacheError({
    code: 'E_INTEGRITY',
    message: `${params.source} is not ${label} at ${params.commit.slice(0, 12)}: its ${algorithm} is ${digest.slice(0, 16)}…, the Hub's is ${params.etag.slice(0, 16)}…; nothing was written`,
    hint: 'The file differs from the Hub\'s (another revision, a conversion, or damage): download it instead, or adopt it with the revision it came from (-r).',
    data: { source: params.source, path: params.path, expected: params.etag, actual: digest, algorithm },
  });
}
