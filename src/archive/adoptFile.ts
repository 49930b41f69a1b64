/**
 * `hubcache adopt REPO FILE LOCAL_PATH`: a file the user already has becomes
 * that repo file in the cache, with no download. What it must be comes from
 * one HEAD (commit, etag, size), or, with no network at all, from the user:
 * `sha256` (an LFS file's etag is its sha256) and a commit (`revision` a
 * 40-hex commit, or a branch whose ref the cache already holds).
 * The rest is adoptLocalBlob's: verify, commit the blob, link, ref.
 */
import { HubcacheError } from '../errors.js';
import { readRef } from '../cache/readRefs.js';
import { formatRepoRef, type RepoRef } from '../cache/repoId.js';
import { validateRepoFilePath } from '../cache/repoFilePath.js';
import { repoPaths } from '../cache/repoPaths.js';
import { DEFAULT_REVISION, isCommitHash, validateRevision } from '../cache/revision.js';
import { quoteInput } from '../quoteInput.js';
import { getFileMetadata } from '../hub/getFileMetadata.js';
import { withRetries } from '../hub/withRetries.js';
import { adoptLocalBlob, type AdoptLocalBlobResult, type AdoptMode, type AdoptProgressEvent } from './adoptLocalBlob.js';

export interface AdoptFileParams extends RepoRef {
  cacheDir: string;
  endpoint: string;
  token?: string | undefined;
  /** No network: then `sha256` is required. */
  offline?: boolean;
  /** Branch, tag or commit (default main); with `sha256`, a commit or a branch already in refs/. */
  revision?: string;
  /** The file's path in the repo (traversal refused). */
  path: string;
  /** The user's file. */
  source: string;
  /** Default `copy`. */
  mode?: AdoptMode;
  /** The file's sha256 (LFS files): skips the HEAD, so it works offline. */
  sha256?: string;
  retries?: number;
  metadataTimeoutMs?: number | undefined;
  lockTimeoutMs?: number;
  signal?: AbortSignal | undefined;
  onProgress?: ((event: AdoptProgressEvent) => void) | undefined;
  onWarning?: ((message: string) => void) | undefined;
}

export interface AdoptFileResult extends AdoptLocalBlobResult {
  path: string;
  /** Where the etag came from: the Hub (one HEAD) or the user's --sha256. */
  checkedAgainst: 'hub' | 'sha256';
}

export async function adoptFile(params: AdoptFileParams): Promise<AdoptFileResult> {
  const revision = params.revision ?? DEFAULT_REVISION;
  validateRevision({ revision });
  validateRepoFilePath({ path: params.path });
  const label = `${formatRepoRef(params)}/${params.path}`;
  const target = params.sha256 !== undefined ? await fromUser({ params, revision, sha256: params.sha256 }) : await fromHub({ params, revision, label });
  const result = await adoptLocalBlob({
    ...params,
    revision,
    commit: target.commit,
    etag: target.etag,
    size: target.size,
    mode: params.mode ?? 'copy',
  });
  return { ...result, path: params.path, checkedAgainst: params.sha256 !== undefined ? 'sha256' : 'hub' };
}

async function fromHub(args: { params: AdoptFileParams; revision: string; label: string }): Promise<{ commit: string; etag: string; size: number }> {
  const { params, revision, label } = args;
  if (params.offline) {
    throw new HubcacheError({
      code: 'E_OFFLINE',
      message: `Offline mode: the Hub cannot be asked what ${label} is at ${revision}`,
      hint: 'Give the expected hash with --sha256 <hex> and the commit with -r <40-hex commit> (LFS files), or run with network access.',
      data: { repo: formatRepoRef(params), path: params.path, revision },
    });
  }
  const meta = await withRetries({
    retries: params.retries ?? 3,
    signal: params.signal,
    hasFallback: false,
    fn: () => getFileMetadata({ ...params, revision, path: params.path, ...(params.metadataTimeoutMs !== undefined ? { timeoutMs: params.metadataTimeoutMs } : {}) }),
  });
  return { commit: meta.commit, etag: meta.etag, size: meta.size };
}

/** Offline: the hash is the user's word (checked against the file), the commit a commit or a ref the cache has. */
async function fromUser(args: { params: AdoptFileParams; revision: string; sha256: string }): Promise<{ commit: string; etag: string; size: undefined }> {
  const { params, revision } = args;
  const sha256 = args.sha256.toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(sha256)) {
    throw new HubcacheError({ code: 'E_USAGE', message: `--sha256 must be 64 hex digits, got ${quoteInput(args.sha256)}`, data: { sha256: args.sha256.slice(0, 80) } });
  }
  if (isCommitHash(revision)) return { commit: revision, etag: sha256, size: undefined };
  const known = await readRef({ refPath: repoPaths(params).ref(revision) }).catch(() => undefined);
  const commit = known?.trim();
  if (commit === undefined || !isCommitHash(commit)) {
    throw new HubcacheError({
      code: 'E_USAGE',
      message: `--sha256 needs the commit the file belongs to: ${quoteInput(revision)} is not a commit and the cache has no ref of that name for ${formatRepoRef(params)}`,
      hint: 'Give the commit with -r <40-hex commit> (the Hub shows it in the file\'s history).',
      data: { revision },
    });
  }
  return { commit, etag: sha256, size: undefined };
}
