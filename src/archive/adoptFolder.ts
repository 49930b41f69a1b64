/**
 * `hubcache adopt REPO DIR`: a whole local folder (what `hf download --local-dir`
 * or a hand copy left) becomes the repo's snapshot at one commit, file by file,
 * with no download. The listing (one call, src/hub/getRepoInfo.ts) says which
 * files the revision has with their etags and sizes; each one present in the
 * folder goes through adoptLocalBlob, which commits only what matches. A file
 * that does not match is reported and left out; so is one the folder lacks.
 *
 * `<DIR>/.cache/huggingface/` (huggingface_hub's local-dir metadata) is never
 * adopted and never needed: every etag comes from the listing.
 */
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { HubcacheError, fromSystemError, isHubcacheError } from '../errors.js';
import { formatRepoRef, type RepoRef } from '../cache/repoId.js';
import { repoPaths } from '../cache/repoPaths.js';
import { DEFAULT_REVISION, validateRevision } from '../cache/revision.js';
import { getFileMetadata } from '../hub/getFileMetadata.js';
import { getRepoInfo, type RepoFileEntry } from '../hub/getRepoInfo.js';
import { withRetries } from '../hub/withRetries.js';
import { adoptLocalBlob, type AdoptMode, type AdoptProgressEvent } from './adoptLocalBlob.js';

/** huggingface_hub's metadata folder inside a local dir. */
const LOCAL_DIR_METADATA = '.cache/huggingface';
/** Local files outside the listing are named up to this many (then counted): a report, not an inventory. */
const MAX_EXTRA_LISTED = 100;

export type AdoptFolderStatus = 'adopted' | 'already-cached' | 'mismatch' | 'refused' | 'missing';

export interface AdoptFolderEntry {
  /** The file's path in the repo (and under the folder). */
  path: string;
  status: AdoptFolderStatus;
  size?: number;
  sourceRemoved?: boolean;
  sharesInode?: boolean;
  /** Why a file was not adopted (mismatch, refused). */
  message?: string;
  /** The error's code and facts (expected/actual hash) for a mismatch or refusal. */
  code?: string;
  data?: Record<string, unknown>;
}

export interface AdoptFolderParams extends RepoRef {
  cacheDir: string;
  endpoint: string;
  token?: string | undefined;
  offline?: boolean;
  /** Branch, tag or commit (default main): resolved once, every file is adopted at that commit. */
  revision?: string;
  /** The local folder, laid out like the repo. */
  folder: string;
  /** Default `copy`. */
  mode?: AdoptMode;
  retries?: number;
  metadataTimeoutMs?: number | undefined;
  lockTimeoutMs?: number;
  signal?: AbortSignal | undefined;
  onProgress?: ((event: AdoptProgressEvent) => void) | undefined;
  onWarning?: ((message: string) => void) | undefined;
  /** Each file's outcome as soon as it is known. */
  onFile?: ((entry: AdoptFolderEntry) => void) | undefined;
}

export interface AdoptFolderResult {
  repo: string;
  revision: string;
  commit: string;
  /** The snapshot folder (it holds what was adopted now and what was cached before). */
  snapshotPath: string;
  files: AdoptFolderEntry[];
  adopted: number;
  mismatched: number;
  missing: number;
  /** Local files the revision does not have (not adopted), up to 100 named. */
  extra: string[];
  extraCount: number;
  /** False when any present file was refused or did not match. */
  ok: boolean;
}

export async function adoptFolder(params: AdoptFolderParams): Promise<AdoptFolderResult> {
  const revision = params.revision ?? DEFAULT_REVISION;
  validateRevision({ revision });
  const repo = formatRepoRef(params);
  const folderStats = await lstat(params.folder).catch(() => undefined);
  if (!folderStats?.isDirectory()) {
    throw new HubcacheError({ code: 'E_USAGE', message: `${params.folder} is not a folder`, hint: 'Adopt one file with `hubcache adopt REPO FILE LOCAL_PATH`.', data: { folder: params.folder } });
  }
  if (params.offline) {
    throw new HubcacheError({
      code: 'E_OFFLINE',
      message: `Offline mode: the Hub cannot list ${repo} at ${revision}, so the folder's files cannot be checked`,
      hint: 'Run with network access, or adopt files one by one with --sha256 and -r <commit>.',
      data: { repo, revision },
    });
  }
  const info = await withRetries({
    retries: params.retries ?? 3,
    signal: params.signal,
    hasFallback: false,
    fn: () => getRepoInfo({ ...params, revision, metadataTimeoutMs: params.metadataTimeoutMs }),
  });
  const files: AdoptFolderEntry[] = [];
  const record = (entry: AdoptFolderEntry): void => {
    files.push(entry);
    params.onFile?.(entry);
  };
  const listed = new Set<string>();
  for (const file of [...info.files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
    listed.add(file.path);
    if (isMetadataPath(file.path)) continue;
    record(await adoptOne({ params, revision, commit: info.commit, file }));
  }
  const extra = await listExtraFiles({ folder: params.folder, listed });
  const count = (...statuses: AdoptFolderStatus[]): number => files.filter((f) => statuses.includes(f.status)).length;
  return {
    repo,
    revision,
    commit: info.commit,
    snapshotPath: repoPaths(params).snapshot(info.commit),
    files,
    adopted: count('adopted', 'already-cached'),
    mismatched: count('mismatch', 'refused'),
    missing: count('missing'),
    extra: extra.names,
    extraCount: extra.count,
    ok: count('mismatch', 'refused') === 0,
  };
}

async function adoptOne(args: { params: AdoptFolderParams; revision: string; commit: string; file: RepoFileEntry }): Promise<AdoptFolderEntry> {
  const { params, revision, commit, file } = args;
  const source = join(params.folder, ...file.path.split('/'));
  const local = await lstat(source).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return undefined;
    throw fromSystemError({ err, path: source, action: `read ${source}` });
  });
  if (local === undefined) return { path: file.path, status: 'missing' };
  // Listings made without ?blobs=true lack etags and sizes: one HEAD at the commit then.
  const facts =
    file.etag !== undefined && file.size !== undefined
      ? { etag: file.etag, size: file.size }
      : await withRetries({
          retries: params.retries ?? 3,
          signal: params.signal,
          hasFallback: false,
          fn: () => getFileMetadata({ ...params, revision: commit, path: file.path, ...(params.metadataTimeoutMs !== undefined ? { timeoutMs: params.metadataTimeoutMs } : {}) }),
        });
  try {
    const result = await adoptLocalBlob({ ...params, revision, commit, path: file.path, etag: facts.etag, size: facts.size, source, mode: params.mode ?? 'copy' });
    return { path: file.path, status: result.blob, size: result.size, sourceRemoved: result.sourceRemoved, sharesInode: result.sharesInode };
  } catch (err) {
    // A file that is not the Hub's, or one this mode cannot take (a symlink for --move): that
    // file's verdict. Anything else (disk full, permissions, the network) stops the whole run.
    if (isHubcacheError(err, 'E_INTEGRITY') || isHubcacheError(err, 'E_USAGE')) {
      return { path: file.path, status: err.code === 'E_INTEGRITY' ? 'mismatch' : 'refused', message: err.message, code: err.code, data: err.data };
    }
    throw err;
  }
}

function isMetadataPath(path: string): boolean {
  return path === LOCAL_DIR_METADATA || path.startsWith(`${LOCAL_DIR_METADATA}/`);
}

/** Files under the folder the listing does not name (links are not followed; the metadata folder is skipped). */
async function listExtraFiles(params: { folder: string; listed: Set<string> }): Promise<{ names: string[]; count: number }> {
  const names: string[] = [];
  let count = 0;
  const walk = async (dir: string, prefix: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      const rel = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
      if (isMetadataPath(rel)) continue;
      if (entry.isDirectory()) await walk(join(dir, entry.name), rel);
      else if (!params.listed.has(rel)) {
        count += 1;
        if (names.length < MAX_EXTRA_LISTED) names.push(rel);
      }
    }
  };
  await walk(params.folder, '');
  return { names: names.sort(), count };
}
