/**
 * Where each piece of a repo lives in the hub cache. Pure path arithmetic:
 * nothing here touches the disk. Every user-controlled part is validated
 * before it is joined, so callers can trust the results stay inside the repo.
 */
import { dirname, join, relative } from 'node:path';
import { validateEtag } from './etag.js';
import { repoFolderName, type RepoRef } from './repoId.js';
import { validateRepoFilePath } from './repoFilePath.js';
import { isCommitHash, validateRevision } from './revision.js';
import { HubcacheError } from '../errors.js';

export const CACHEDIR_TAG_NAME = 'CACHEDIR.TAG';
export const CACHEDIR_TAG_SIGNATURE = 'Signature: 8a477f597d28d172789f06886806bc55';
export const LOCKS_DIR_NAME = '.locks';
/**
 * hubcache's own folder inside the cache root (access records, partial
 * download state); never a repo folder. It lives under `.locks/` because
 * huggingface_hub's and @huggingface/hub's cache scans skip `.locks` and warn
 * about any other unknown folder at the root.
 */
export const HUBCACHE_DIR_NAME = `${LOCKS_DIR_NAME}/.hubcache`;

export interface RepoPaths {
  cacheDir: string;
  folderName: string;
  repoDir: string;
  blobsDir: string;
  refsDir: string;
  snapshotsDir: string;
  noExistDir: string;
  locksDir: string;
  blob(etag: string): string;
  ref(revision: string): string;
  snapshot(commit: string): string;
  snapshotFile(commit: string, path: string): string;
  noExistFile(commit: string, path: string): string;
  lock(etag: string): string;
  /** Relative link text from a snapshot file to its blob, as Python writes it. */
  blobLinkTarget(commit: string, path: string, etag: string): string;
}

function assertCommit(commit: string): void {
  if (!isCommitHash(commit)) {
    throw new HubcacheError({
      code: 'E_INVALID_REVISION',
      message: `Not a commit hash: "${commit}"`,
      data: { commit },
    });
  }
}

export function repoPaths(params: RepoRef & { cacheDir: string }): RepoPaths {
  const folderName = repoFolderName(params);
  const repoDir = join(params.cacheDir, folderName);
  const blobsDir = join(repoDir, 'blobs');
  const refsDir = join(repoDir, 'refs');
  const snapshotsDir = join(repoDir, 'snapshots');
  const noExistDir = join(repoDir, '.no_exist');
  const locksDir = join(params.cacheDir, LOCKS_DIR_NAME, folderName);
  const blob = (etag: string): string => {
    validateEtag({ etag });
    return join(blobsDir, etag);
  };
  const snapshot = (commit: string): string => {
    assertCommit(commit);
    return join(snapshotsDir, commit);
  };
  const snapshotFile = (commit: string, path: string): string => {
    validateRepoFilePath({ path });
    return join(snapshot(commit), ...path.split('/'));
  };
  return {
    cacheDir: params.cacheDir,
    folderName,
    repoDir,
    blobsDir,
    refsDir,
    snapshotsDir,
    noExistDir,
    locksDir,
    blob,
    ref: (revision: string) => {
      validateRevision({ revision });
      return join(refsDir, ...revision.split('/'));
    },
    snapshot,
    snapshotFile,
    noExistFile: (commit: string, path: string) => {
      assertCommit(commit);
      validateRepoFilePath({ path });
      return join(noExistDir, commit, ...path.split('/'));
    },
    lock: (etag: string) => {
      validateEtag({ etag });
      return join(locksDir, `${etag}.lock`);
    },
    blobLinkTarget: (commit: string, path: string, etag: string) =>
      relative(dirname(snapshotFile(commit, path)), blob(etag)),
  };
}
