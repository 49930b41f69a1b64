/** The repo walk's first step: what blobs/ holds (complete blobs with their stats, partial downloads). */
import { linkedBlob } from './linkedEntries.js';
import { lstatSync, type Stats } from 'node:fs';
import type { CacheWarning, IncompleteFile } from './cacheScan.js';
import { byCodeUnits } from './byCodeUnits.js';
import { readDirOrWarn } from './readDirOrWarn.js';

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
}): RepoBlobs {
  const complete = new Map<string, BlobEntry>();
  const incomplete: IncompleteFile[] = [];
  const entries = readDirOrWarn({ dir: params.blobsDir, warnings: params.warnings });
  // One lstat per blob, whatever the number of links to it: the snapshot walk looks blobs up here.
  entries.forEach((entry) => {
      const path = `${params.blobsDir}/${entry.name}`;
      let stats: Stats;
      try {
        stats = lstatSync(path);
      } catch {
        // Removed between readdir and lstat (a concurrent gc or a finished download): nothing to report.
        return;
      }
      if (entry.name.endsWith('.incomplete') || entry.name.endsWith('.downloadInProgress')) {
        incomplete.push({
          path,
          bytes: stats.size,
          kind: entry.name.endsWith('.incomplete') ? 'incomplete' : 'downloadInProgress',
          lastModified: stats.mtimeMs,
        });
        return;
      }
      if (stats.isSymbolicLink()) {
        const target = linkedBlob({ path, warnings: params.warnings });
        if (target) complete.set(entry.name, { size: target.size, atimeMs: target.atimeMs, mtimeMs: target.mtimeMs });
        return;
      }
      if (!stats.isFile()) {
        params.warnings.push({ code: 'stray-entry', path, message: 'blobs/ should hold only regular files' });
        return;
      }
      complete.set(entry.name, { size: stats.size, atimeMs: stats.atimeMs, mtimeMs: stats.mtimeMs });
    });
  incomplete.sort((a, b) => byCodeUnits(a.path, b.path));
  return { complete, incomplete };
}
