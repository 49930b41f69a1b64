/**
 * The repo walk's per-revision step: every file of one snapshot folder
 * (recursively), each link resolved against the repo's blobs.
 *
 * The folders were read before, in one go (dirListing: the addon, else
 * JavaScript); this takes the revision's part of the `snapshots/` listing, and
 * per link does string checks on its target, nothing else. The blob's size
 * and times come from readRepoBlobs (one lstat per blob, not per link), and
 * a summary scan (`files` undefined) builds no per-file object at all: it
 * only tallies the unique blobs the revision uses.
 */
import { dirname, isAbsolute, resolve, sep } from 'node:path';
import type { CachedFile, CacheWarning } from './cacheScan.js';
import type { BlobEntry } from './readRepoBlobs.js';
import { ENTRY, type DirListing } from './dirListing.js';

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
  /** The `snapshots/` folder. */
  snapshotsDir: string;
  /** Its listing (dirListing.listSnapshotsTree)... */
  listing: DirListing;
  /** ...of which the revision's folder is the entry at `start`, and its contents run up to `end` (excluded). */
  start: number;
  end: number;
  blobsDir: string;
  blobs: Map<string, BlobEntry>;
  tally: RevisionTally;
  /** Collects one CachedFile per file; undefined for a summary scan. */
  files: CachedFile[] | undefined;
  warnings: CacheWarning[];
}

export function scanSnapshotDir(params: ScanSnapshotDirParams): void {
  const { fields, kinds, numbers } = params.listing;
  // Paths in the listing start with "<commit>/": the path inside the snapshot is what follows.
  const skip = (fields[2 * params.start] as string).length + 1;
  // The link every writer makes: `../../blobs/<etag>` at the top, one more `../` per subfolder.
  const usualPrefixes: string[] = [];
  for (let i = params.start + 1; i < params.end; i++) {
    const listed = fields[2 * i] as string;
    const kind = kinds[i];
    if (kind === ENTRY.link) {
      // One "../" per "/" in the listed path ("<commit>/" included), plus one for snapshots/.
      let depth = 1;
      for (let c = 0; c < listed.length; c++) if (listed.charCodeAt(c) === 47) depth += 1;
      const usualPrefix = (usualPrefixes[depth] ??= `${'../'.repeat(depth)}blobs/`);
      describeLink({ params, listed, skip, target: fields[2 * i + 1] as string, usualPrefix });
      continue;
    }
    const snapshotPath = `${params.snapshotsDir}/${listed}`;
    const relPath = listed.slice(skip);
    switch (kind) {
      case ENTRY.linkGone:
        // Gone since the readdir (a concurrent rm): counted, as before, as a dangling link.
        params.tally.nbFiles += 1;
        params.files?.push(linkFile({ relPath, snapshotPath, problem: 'dangling-link' }));
        break;
      case ENTRY.file:
        describeCopy({ params, snapshotPath, relPath, entry: { size: numbers[3 * i] as number, atimeMs: numbers[3 * i + 1] as number, mtimeMs: numbers[3 * i + 2] as number } });
        break;
      case ENTRY.fileGone:
      case ENTRY.dir:
        // Gone since the readdir (a concurrent rm): not part of this revision any more. A folder: its entries follow.
        break;
      case ENTRY.unreadable:
        // Right after its folder's entry; the revision's own folder is the entry at `start`, so this may name it.
        params.warnings.push({ code: 'unreadable', path: snapshotPath, message: fields[2 * i + 1] as string });
        break;
      default:
        params.warnings.push({ code: 'stray-entry', path: snapshotPath, message: 'not a file, folder or link' });
    }
  }
}

/** The no-symlink layout (Windows, some network filesystems): the snapshot file holds the bytes. */
function describeCopy(args: { params: ScanSnapshotDirParams; snapshotPath: string; relPath: string; entry: BlobEntry }): void {
  const { params, snapshotPath, entry } = args;
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

function describeLink(args: { params: ScanSnapshotDirParams; listed: string; skip: number; target: string; usualPrefix: string }): void {
  const { params, target } = args;
  const { blobsDir } = params;
  params.tally.nbFiles += 1;
  let blobName = blobNameOf({ target, usualPrefix: args.usualPrefix });
  if (blobName !== undefined && params.files === undefined) {
    // Nearly every link of a summary scan: spelled the usual way, to a blob that is there. Only the tally needs it.
    const blob = params.blobs.get(blobName);
    if (blob) {
      params.tally.blobs.set(blobName, blob);
      return;
    }
  }
  const snapshotPath = `${params.snapshotsDir}/${args.listed}`;
  const relPath = args.listed.slice(args.skip);
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
