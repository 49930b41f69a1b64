/**
 * What a cached snapshot holds and lacks, without any network: for an offline
 * download, or the fallback when the Hub cannot be reached. A snapshot folder
 * can be partial (an interrupted download, a blob removed by hand or by
 * `verify --fix`): its files are the links that resolve; its missing files are
 * the links that do not, plus the files of the commit's cached listing
 * (`trees/<commit>.json`, written by huggingface_hub >= 1.33 as Python's own
 * completeness check) that are not there. Without a listing, only dangling
 * links can be told apart.
 */
import { readdirSync, statSync, type Dirent } from 'node:fs';
import { join } from 'node:path';
import { readBoundedFileSync } from '../cache/readBoundedFile.js';
import { filterByGlobs } from './matchGlobs.js';

export interface CachedSnapshotCheck {
  /** Usable files (path in the repo -> size), filtered by the globs. */
  files: Map<string, number>;
  /** Files the snapshot should have (filtered by the globs) but cannot serve, sorted. */
  missing: string[];
  /** Whether a listing of the commit was found (without one, only dangling links count as missing). */
  listed: boolean;
}

/** A listing of 100k files is a few MB; more than this is not one. */
const MAX_LISTING_BYTES = 64 * 1024 * 1024;

export function checkCachedSnapshot(params: { snapshotDir: string; treeListingPath: string; include?: string[]; exclude?: string[] }): CachedSnapshotCheck {
  const present = new Map<string, number>();
  const dangling: string[] = [];
  const walk = (dir: string, prefix: string): void => {
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const path = prefix ? `${prefix}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        walk(join(dir, entry.name), path);
        continue;
      }
      try {
        const stats = statSync(join(dir, entry.name));
        if (stats.isFile()) present.set(path, stats.size);
        else dangling.push(path);
      } catch {
        dangling.push(path);
      }
    }
  };
  walk(params.snapshotDir, '');
  const listed = readListing(params.treeListingPath);
  const globs = { ...(params.include ? { include: params.include } : {}), ...(params.exclude ? { exclude: params.exclude } : {}) };
  const wanted = new Set(filterByGlobs({ paths: [...present.keys()], ...globs }));
  const missing = new Set(filterByGlobs({ paths: [...dangling, ...(listed ?? []).filter((p) => !present.has(p))], ...globs }));
  return { files: new Map([...present].filter(([p]) => wanted.has(p))), missing: [...missing].sort(), listed: listed !== undefined };
}

/** The paths of huggingface_hub's `{"format_version": 1, "files": {...}}`; undefined when absent or unusable (as Python ignores it). */
function readListing(path: string): string[] | undefined {
  try {
    const read = readBoundedFileSync({ path, maxBytes: MAX_LISTING_BYTES });
    if (read.status !== 'ok') return undefined;
    const data = JSON.parse(read.bytes.toString('utf8')) as { format_version?: unknown; files?: unknown };
    if (data.format_version !== 1 || typeof data.files !== 'object' || data.files === null) return undefined;
    return Object.keys(data.files);
  } catch {
    return undefined;
  }
}
