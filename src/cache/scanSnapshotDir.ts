/**
 * The repo walk's per-revision step: every file of one snapshot folder
 * (recursively), each link resolved against the repo's blobs.
 *
 * Per link: one readlink and string checks, nothing else. The blob's size
 * and times come from readRepoBlobs (one lstat per blob, not per link), and
 * a summary scan (`files` undefined) builds no per-file object at all: it
 * only tallies the unique blobs the revision uses.
 */
import { lstatSync, readlinkSync } from 'node:fs';
import { dirname, isAbsolute, resolve, sep } from 'node:path';
import type { CachedFile, CacheWarning } from './cacheScan.js';
import type { BlobEntry } from './readRepoBlobs.js';
import { readDirOrWarn } from './readDirOrWarn.js';

const IGNORED_NAMES = new Set(['.DS_Store']);

/** What one revision holds, for its totals: the file count and the unique blobs its files use. */
export interface RevisionTally {
  nbFiles: number;
  /**
   * Unique blobs by key: the blob's name for links into blobs/, the absolute
   * snapshot path for a file of the copy layout (never a blob name: it has a "/").
   */
  blobs: Map<string, BlobEntry>;
}

export interface ScanSnapshotDirParams {
  /** The snapshot folder (`snapshots/<commit>`), or a subfolder of it while recursing. */
  dir: string;
  /** `dir`'s path inside the snapshot ("" at its top), with "/" separators. */
  prefix: string;
  blobsDir: string;
  blobs: Map<string, BlobEntry>;
  tally: RevisionTally;
  /** Collects one CachedFile per file; undefined for a summary scan. */
  files: CachedFile[] | undefined;
  warnings: CacheWarning[];
}

export function scanSnapshotDir(params: ScanSnapshotDirParams): void {
  // The link every writer makes: `../../blobs/<etag>` at the top, one more `../` per subfolder.
  let depth = 2;
  for (let i = 0; i < params.prefix.length; i++) if (params.prefix.charCodeAt(i) === 47) depth += 1;
  if (params.prefix) depth += 1;
  const usualPrefix = `${'../'.repeat(depth)}blobs/`;
  const entries = readDirOrWarn({ dir: params.dir, warnings: params.warnings });
  for (const entry of entries) {
    if (IGNORED_NAMES.has(entry.name)) continue;
    const snapshotPath = `${params.dir}/${entry.name}`;
    const relPath = params.prefix ? `${params.prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) {
      scanSnapshotDir({ ...params, dir: snapshotPath, prefix: relPath });
    } else if (entry.isSymbolicLink()) {
      describeLink({ params, snapshotPath, relPath, usualPrefix });
    } else if (entry.isFile()) {
      describeCopy({ params, snapshotPath, relPath });
    } else {
      params.warnings.push({ code: 'stray-entry', path: snapshotPath, message: 'not a file, folder or link' });
    }
  }
}

/** The no-symlink layout (Windows, some network filesystems): the snapshot file holds the bytes. */
function describeCopy(args: { params: ScanSnapshotDirParams; snapshotPath: string; relPath: string }): void {
  const { params, snapshotPath } = args;
  const stats = lstatSync(snapshotPath, { throwIfNoEntry: false });
  // Removed since the readdir (a concurrent rm): not part of this revision any more.
  if (!stats) return;
  const entry: BlobEntry = { size: stats.size, atimeMs: stats.atimeMs, mtimeMs: stats.mtimeMs };
  params.tally.nbFiles += 1;
  params.tally.blobs.set(snapshotPath, entry);
  params.files?.push({
    path: args.relPath,
    snapshotPath,
    blobPath: snapshotPath,
    blobName: undefined,
    layout: 'copy',
    size: entry.size,
    lastAccessed: entry.atimeMs,
    lastModified: entry.mtimeMs,
    problem: undefined,
  });
}

function describeLink(args: { params: ScanSnapshotDirParams; snapshotPath: string; relPath: string; usualPrefix: string }): void {
  const { params, snapshotPath, relPath } = args;
  const { blobsDir } = params;
  params.tally.nbFiles += 1;
  let target: string;
  try {
    target = readlinkSync(snapshotPath);
  } catch {
    // Gone since the readdir (a concurrent rm): counted, as before, as a dangling link.
    params.files?.push(linkFile({ relPath, snapshotPath, problem: 'dangling-link' }));
    return;
  }
  let blobName = blobNameOf({ target, usualPrefix: args.usualPrefix });
  if (blobName === undefined) {
    // Any other spelling (absolute, extra ./ or ../): resolve it the slow way.
    const resolved = resolve(dirname(snapshotPath), target);
    if (dirname(resolved) !== blobsDir || resolved.slice(blobsDir.length + 1).includes(sep)) {
      params.warnings.push({ code: 'link-outside-repo', path: snapshotPath, message: `link points outside this repo's blobs/ (${target})` });
      params.files?.push(linkFile({ relPath, snapshotPath, problem: 'link-outside-repo' }));
      return;
    }
    blobName = resolved.slice(blobsDir.length + 1);
  }
  const blob = params.blobs.get(blobName);
  if (!blob) {
    params.warnings.push({ code: 'dangling-link', path: snapshotPath, message: `link target blobs/${blobName} is missing` });
    params.files?.push(linkFile({ relPath, snapshotPath, blobName, problem: 'dangling-link' }));
    return;
  }
  if (isAbsolute(target)) {
    // Works here, but breaks as soon as the volume is mounted at another path: a warning, not a problem of the file.
    params.warnings.push({ code: 'absolute-link', path: snapshotPath, message: `absolute link (${target}); other mounts of this cache will not resolve it` });
  }
  params.tally.blobs.set(blobName, blob);
  params.files?.push({
    path: relPath,
    snapshotPath,
    blobPath: `${blobsDir}/${blobName}`,
    blobName,
    layout: 'symlink',
    size: blob.size,
    lastAccessed: blob.atimeMs,
    lastModified: blob.mtimeMs,
    problem: undefined,
  });
}

/** The blob name of a link spelled the usual way, else undefined. Plain string checks: path.resolve dominated the JavaScript time on 20k links. */
function blobNameOf(args: { target: string; usualPrefix: string }): string | undefined {
  if (!args.target.startsWith(args.usualPrefix)) return undefined;
  const name = args.target.slice(args.usualPrefix.length);
  return name.length > 0 && !name.includes('/') && name !== '.' && name !== '..' ? name : undefined;
}

function linkFile(args: { relPath: string; snapshotPath: string; blobName?: string; problem: 'dangling-link' | 'link-outside-repo' }): CachedFile {
  return {
    path: args.relPath,
    snapshotPath: args.snapshotPath,
    blobPath: undefined,
    blobName: args.blobName,
    layout: 'symlink',
    size: 0,
    lastAccessed: 0,
    lastModified: 0,
    problem: args.problem,
  };
}
