/**
 * The shape of a cache scan: repos, revisions, files, partial downloads and
 * the per-item warnings `scanCache` reports.
 */
import type { RepoType } from './repoId.js';

export type CacheWarningCode =
  | 'dangling-link'
  | 'absolute-link'
  | 'link-outside-repo'
  | 'ref-missing-snapshot'
  | 'bad-ref'
  | 'stray-entry'
  | 'bad-folder'
  | 'unreadable'
  /** blobs/, snapshots/ or refs/ is a link (see linkedEntries). */
  | 'linked-folder'
  /** A blob that is a link; it counts as the blob when it resolves to a file (see linkedEntries). */
  | 'linked-blob';

export interface CacheWarning {
  code: CacheWarningCode;
  path: string;
  message: string;
}

export interface CachedFile {
  /** Path inside the snapshot, with "/" separators. */
  path: string;
  snapshotPath: string;
  /** Where the bytes are: the blob for links, the file itself for the copy layout; undefined when dangling. */
  blobPath: string | undefined;
  /** The blob's name (its etag) for links into blobs/. */
  blobName: string | undefined;
  layout: 'symlink' | 'copy';
  size: number;
  lastAccessed: number;
  lastModified: number;
  /** Set when this file has a problem (see the repo's warnings for details). */
  problem: CacheWarningCode | undefined;
}

export interface CachedRevision {
  commit: string;
  refs: string[];
  snapshotPath: string;
  /** Every file; empty when the scan was asked for `detail: 'summary'`. */
  files: CachedFile[];
  /** Number of files in the snapshot (also in summary scans). */
  nbFiles: number;
  /** Sum of the unique blobs of this revision. */
  sizeOnDisk: number;
  lastModified: number;
}

export interface IncompleteFile {
  path: string;
  bytes: number;
  kind: 'incomplete' | 'downloadInProgress';
  lastModified: number;
}

export interface CachedRepo {
  repoType: RepoType;
  repoId: string;
  folderName: string;
  repoPath: string;
  refs: Record<string, string>;
  revisions: CachedRevision[];
  /** Sum of unique blobs linked from any snapshot (huggingface_hub's size_on_disk). */
  sizeOnDisk: number;
  /** Number of unique blobs linked from any snapshot (huggingface_hub's nb_files). */
  nbFiles: number;
  /** Blobs that no snapshot links to (gc material). */
  orphanBlobs: { count: number; bytes: number };
  incomplete: { files: IncompleteFile[]; bytes: number };
  lastAccessed: number;
  lastModified: number;
  warnings: CacheWarning[];
}

export interface CacheScan {
  cacheDir: string;
  exists: boolean;
  repos: CachedRepo[];
  /** Problems not tied to a repo (odd folders at the root). */
  warnings: CacheWarning[];
  sizeOnDisk: number;
}

/** One repo folder to walk (what the root walk hands to the repo walk, on this thread or a worker). */
export interface RepoJob {
  repoPath: string;
  folderName: string;
  repoType: RepoType;
  repoId: string;
}
