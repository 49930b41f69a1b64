/**
 * The index a hubcache backup starts with: every repo, revision, file, blob,
 * size and hash in the archive, so a restore knows what to expect before the
 * first byte of content and refuses whatever the index does not list. It
 * lives at `.locks/.hubcache/backup-index.json`: a plain `tar xf` puts it in
 * hubcache's own folder, which other tools' scans skip.
 */
import { HubcacheError } from '../errors.js';
import { hashAlgorithmForBlobName, type HashAlgorithm } from '../cache/etag.js';
import { repoFilePathProblem } from '../cache/repoFilePath.js';
import { parseRepoFolderName, repoFolderName, type RepoType } from '../cache/repoId.js';
import { HUBCACHE_DIR_NAME } from '../cache/repoPaths.js';
import { isCommitHash, validateRevision } from '../cache/revision.js';
import { quoteInput } from '../quoteInput.js';

export const INDEX_ENTRY_NAME = `${HUBCACHE_DIR_NAME}/backup-index.json`;
/** Written last: blobs that left the cache while the backup ran (their links were left out too). */
export const END_ENTRY_NAME = `${HUBCACHE_DIR_NAME}/backup-end.json`;
export const INDEX_FORMAT = 'hubcache-backup';
/** An index is read into memory: this is ~1 million files, far past any cache, far below a memory problem. */
export const MAX_INDEX_BYTES = 256 * 1024 * 1024;

export interface BackupIndexFile {
  path: string;
  /** The blob's name: its sha256 (LFS) or git-sha1 (regular file). */
  blob: string;
  size: number;
  /** `sha256:<hex>` or `git-sha1:<hex>`: how restore checks the bytes (the blob's name, spelled out). */
  hash: string;
}

export interface BackupIndexRevision {
  commit: string;
  files: BackupIndexFile[];
}

export interface BackupIndexRepo {
  repoType: RepoType;
  repoId: string;
  /** `models--org--name`. */
  folder: string;
  /** ref name -> commit, only refs whose commit is in `revisions`. */
  refs: Record<string, string>;
  revisions: BackupIndexRevision[];
}

export interface BackupIndex {
  format: typeof INDEX_FORMAT;
  version: 1;
  createdAt: string;
  repos: BackupIndexRepo[];
}

export interface BackupEnd {
  /** Blobs listed in the index that were gone when their turn came: not in the archive, and nor are their links. */
  vanished: Array<{ folder: string; blob: string }>;
}

export function hashOf(blob: string): string {
  return `${hashAlgorithmForBlobName({ name: blob }) ?? 'unknown'}:${blob}`;
}

function bad(why: string): HubcacheError {
  return new HubcacheError({
    code: 'E_ARCHIVE',
    message: `Refusing the archive: its index (${INDEX_ENTRY_NAME}) ${why}`,
    hint: 'The archive was not written by `hubcache backup`, or it was altered; nothing was restored.',
    data: { entry: INDEX_ENTRY_NAME },
  });
}

/**
 * Parses and checks the index; every name in it must be one the cache layout
 * allows (repo folder, commit, file path, ref name, hash-named blob), so nothing
 * restore derives from it can name a path outside its repo.
 */
export function parseBackupIndex(params: { content: Buffer }): BackupIndex {
  let raw: unknown;
  try {
    raw = JSON.parse(params.content.toString('utf8'));
  } catch {
    throw bad('is not JSON');
  }
  const index = raw as BackupIndex;
  if (typeof index !== 'object' || index === null || index.format !== INDEX_FORMAT) throw bad(`is not a ${INDEX_FORMAT} index`);
  if (index.version !== 1) throw bad(`has version ${quoteInput(String(index.version))}; this hubcache reads version 1`);
  if (!Array.isArray(index.repos)) throw bad('has no repo list');
  const folders = new Set<string>();
  for (const repo of index.repos) {
    const ref = typeof repo?.folder === 'string' ? parseRepoFolderName({ name: repo.folder }) : undefined;
    if (!ref || ref.repoType !== repo.repoType || ref.repoId !== repo.repoId || repoFolderName(ref) !== repo.folder) {
      throw bad(`lists a repo folder the cache layout does not allow: ${quoteInput(String(repo?.folder))}`);
    }
    if (folders.has(repo.folder)) throw bad(`lists ${repo.folder} twice`);
    folders.add(repo.folder);
    if (!Array.isArray(repo.revisions) || typeof repo.refs !== 'object' || repo.refs === null) throw bad(`has no revisions or refs for ${repo.folder}`);
    const commits = new Set<string>();
    for (const revision of repo.revisions) {
      if (!isCommitHash(String(revision?.commit))) throw bad(`lists a revision of ${repo.folder} that is not a commit: ${quoteInput(String(revision?.commit))}`);
      commits.add(revision.commit);
      if (!Array.isArray(revision.files)) throw bad(`has no file list for ${repo.folder}@${revision.commit}`);
      for (const file of revision.files) checkFile({ folder: repo.folder, commit: revision.commit, file });
    }
    for (const [name, commit] of Object.entries(repo.refs)) {
      try {
        validateRevision({ revision: name });
      } catch {
        throw bad(`lists a ref of ${repo.folder} with a name git does not allow: ${quoteInput(name)}`);
      }
      if (isCommitHash(name) || typeof commit !== 'string' || !commits.has(commit)) throw bad(`lists ref ${quoteInput(name)} of ${repo.folder} pointing to a commit it does not hold`);
    }
  }
  return index;
}

function checkFile(args: { folder: string; commit: string; file: BackupIndexFile }): void {
  const { folder, commit, file } = args;
  const where = `${folder}@${commit.slice(0, 12)}`;
  const problem = typeof file?.path === 'string' ? repoFilePathProblem({ path: file.path }) : 'it is not a string';
  if (problem) throw bad(`lists a file of ${where} with an unsafe path (${problem}): ${quoteInput(String(file?.path))}`);
  const algorithm: HashAlgorithm | undefined = typeof file.blob === 'string' ? hashAlgorithmForBlobName({ name: file.blob }) : undefined;
  if (!algorithm) throw bad(`lists ${quoteInput(file.path)} of ${where} with a blob that is not a sha256 or git-sha1: ${quoteInput(String(file.blob))}`);
  if (file.hash !== `${algorithm}:${file.blob}`) throw bad(`lists ${quoteInput(file.path)} of ${where} with a hash that is not its blob's name`);
  if (!Number.isSafeInteger(file.size) || file.size < 0) throw bad(`lists ${quoteInput(file.path)} of ${where} with an impossible size`);
}

export function parseBackupEnd(params: { content: Buffer }): BackupEnd {
  try {
    const raw = JSON.parse(params.content.toString('utf8')) as BackupEnd;
    if (!Array.isArray(raw.vanished)) throw new Error('no list');
    return { vanished: raw.vanished.filter((v) => typeof v?.folder === 'string' && typeof v?.blob === 'string') };
  } catch {
    throw new HubcacheError({ code: 'E_ARCHIVE', message: `The archive's ${END_ENTRY_NAME} is not readable JSON`, data: { entry: END_ENTRY_NAME } });
  }
}
