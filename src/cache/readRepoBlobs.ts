/** The repo walk's first step: what blobs/ holds (complete blobs with their stats, partial downloads). */
import { linkedBlob } from './linkedEntries.js';
import type { CacheWarning, IncompleteFile } from './cacheScan.js';
import { byCodeUnits } from './byCodeUnits.js';
import { ENTRY, listBlobsDir, type DirListing } from './dirListing.js';

/**
 * What the scan keeps of a blob's lstat: three numbers, not the Stats object
 * (10k retained Stats with their Dates were a visible share of a scan's GC).
 * Snapshot files of the copy layout are described the same way.
 */
export interface BlobEntry {
  size: number;
  atimeMs: number;
  mtimeMs: number;
}

export interface RepoBlobs {
  complete: Map<string, BlobEntry>;
  incomplete: IncompleteFile[];
}

export function readRepoBlobs(params: {
  blobsDir: string;
  warnings: CacheWarning[];
  /** false: list blobs/ in JavaScript even when the addon is built (see dirListing). */
  native?: boolean;
  /** blobs/ as listRepoFolders already read it. */
  prefetched?: DirListing | undefined;
}): RepoBlobs {
  const complete = new Map<string, BlobEntry>();
  const incomplete: IncompleteFile[] = [];
  // One lstat per blob, whatever the number of links to it: the snapshot walk looks blobs up here.
  const { count, fields, kinds, numbers } = listBlobsDir({ dir: params.blobsDir, warnings: params.warnings, native: params.native, prefetched: params.prefetched });
  for (let i = 0; i < count; i++) {
    const name = fields[2 * i] as string;
    const kind = kinds[i];
    // Removed between readdir and lstat (a concurrent gc or a finished download): nothing to report.
    if (kind === ENTRY.fileGone) continue;
    const path = `${params.blobsDir}/${name}`;
    const size = numbers[3 * i] as number;
    const atimeMs = numbers[3 * i + 1] as number;
    const mtimeMs = numbers[3 * i + 2] as number;
    if (name.endsWith('.incomplete') || name.endsWith('.downloadInProgress')) {
      incomplete.push({ path, bytes: size, kind: name.endsWith('.incomplete') ? 'incomplete' : 'downloadInProgress', lastModified: mtimeMs });
      continue;
    }
    if (kind === ENTRY.link) {
      const target = linkedBlob({ path, warnings: params.warnings });
      if (target) complete.set(name, { size: target.size, atimeMs: target.atimeMs, mtimeMs: target.mtimeMs });
      continue;
    }
    if (kind !== ENTRY.file) {
      params.warnings.push({ code: 'stray-entry', path, message: 'blobs/ should hold only regular files' });
      continue;
    }
    complete.set(name, { size, atimeMs, mtimeMs });
  }
  incomplete.sort((a, b) => byCodeUnits(a.path, b.path));
  return { complete, incomplete };
}
