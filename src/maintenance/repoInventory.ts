/**
 * What the planners need about a repo folder beyond what `scanCache` reports:
 * blobs (with their inode on demand, for hard links), which blobs snapshot
 * links point to right now, partial downloads, temp files, `.no_exist/` and
 * `trees/` entries, and the folder tree (to find folders left empty). One
 * walk, never following links: a `blobs` folder that is a link to elsewhere
 * is not walked, so nothing behind it can be planned.
 */
import { lstatSync, readdirSync, readlinkSync, type Dirent } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { isCommitHash } from '../cache/revision.js';
import { isPartialFileName } from './etagLock.js';
import { isTempFileName } from './tempFiles.js';

export interface FileFacts {
  path: string;
  name: string;
  size: number;
  nlink: number;
  /** `<dev>:<ino>`, to recognise hard links. */
  inodeKey: string;
  mtimeMs: number;
  atimeMs: number;
}

export interface DirFacts {
  path: string;
  /** No file, link or other non-folder entry anywhere below it. */
  empty: boolean;
}

export interface RepoInventory {
  repoPath: string;
  folderName: string;
  /** Complete blobs: name -> path (regular files in `blobs/`); `fileFacts` stats one when needed. */
  blobs: Map<string, string>;
  /** Names of the blobs some snapshot link points to (filled only with `readLinks`). */
  linkedBlobs: Set<string>;
  /** Commit folders in `snapshots/`. */
  snapshotCommits: string[];
  partials: FileFacts[];
  temps: FileFacts[];
  /** commit -> `.no_exist/<commit>` folder. */
  noExist: Map<string, string>;
  /** commit -> `trees/<commit>.json`. */
  trees: Map<string, FileFacts>;
  /** Links outside snapshots/ (a `.no_exist/<commit>` or blob made a link by hand): removable, never followed. */
  strayLinks: string[];
  /** Every folder below the repo folder, children before parents. */
  dirs: DirFacts[];
  /** The repo folder holds no file or link anywhere below it. */
  empty: boolean;
}

type Area = 'blobs' | 'refs' | 'snapshots' | 'noExist' | 'trees' | 'other';

const AREAS: Record<string, Area> = { blobs: 'blobs', refs: 'refs', snapshots: 'snapshots', '.no_exist': 'noExist', trees: 'trees' };

export function readRepoInventory(params: {
  repoPath: string;
  folderName: string;
  /** Read every snapshot link to fill `linkedBlobs` (callers holding a scanCache result already know). */
  readLinks?: boolean;
  /**
   * Walk snapshots/ (default true). Callers holding a scanCache result know its
   * files already and skip the biggest part of the walk; `snapshotCommits`,
   * `linkedBlobs` and the folders below snapshots/ are then not filled.
   */
  snapshots?: boolean;
}): RepoInventory {
  const inventory: RepoInventory = {
    repoPath: params.repoPath,
    folderName: params.folderName,
    blobs: new Map(),
    linkedBlobs: new Set(),
    snapshotCommits: [],
    partials: [],
    temps: [],
    noExist: new Map(),
    trees: new Map(),
    strayLinks: [],
    dirs: [],
    empty: false,
  };
  inventory.empty = walk({ dir: params.repoPath, area: undefined, depth: 0, inventory, readLinks: params.readLinks === true, snapshots: params.snapshots !== false });
  return inventory;
}

/**
 * Returns whether the folder holds no non-folder entry anywhere below.
 * Synchronous on purpose, like scanCache: tens of thousands of tiny fs calls
 * cost far less without a promise and a thread-pool hop each.
 */
function walk(params: { dir: string; area: Area | undefined; depth: number; inventory: RepoInventory; readLinks: boolean; snapshots: boolean }): boolean {
  const { dir, depth, inventory } = params;
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    // Gone (a concurrent cleanup) or unreadable (doctor's business): plan nothing below it, and never call it empty.
    return false;
  }
  let empty = true;
  for (const entry of entries) {
    const path = join(dir, entry.name);
    const area = params.area ?? AREAS[entry.name] ?? 'other';
    if (entry.isDirectory()) {
      if (area === 'snapshots' && depth === 0 && !params.snapshots) {
        empty = false;
        continue;
      }
      if (area === 'noExist' && depth === 1) inventory.noExist.set(entry.name, path);
      if (area === 'snapshots' && depth === 1 && isCommitHash(entry.name)) inventory.snapshotCommits.push(entry.name);
      if (!walk({ ...params, dir: path, area, depth: depth + 1 })) empty = false;
      continue;
    }
    empty = false;
    const isTemp = isTempFileName(entry.name);
    if (entry.isSymbolicLink()) {
      if (area !== 'snapshots') inventory.strayLinks.push(path);
      // Temp links count too: a writer is about to rename one into place.
      else if (params.readLinks) noteLinkedBlob({ path, inventory });
    }
    if (area === 'blobs' && depth === 1 && entry.isFile() && !isTemp && !isPartialFileName(entry.name)) {
      // Stats only on demand: most blobs are kept, and 10,000 lstats are most of a plan's time.
      inventory.blobs.set(entry.name, path);
      continue;
    }
    const wantsFacts = (area === 'blobs' && depth === 1) || isTemp || (area === 'trees' && depth === 1 && entry.name.endsWith('.json'));
    if (!wantsFacts) continue;
    const facts = fileFacts({ path, name: entry.name });
    if (!facts) continue;
    if (isTemp) inventory.temps.push(facts);
    else if (area === 'trees') inventory.trees.set(entry.name.slice(0, -'.json'.length), facts);
    else if (isPartialFileName(entry.name)) inventory.partials.push(facts);
  }
  if (depth > 0) inventory.dirs.push({ path: dir, empty });
  return empty;
}

/** lstat facts of one file; undefined when it is gone (removed by a concurrent writer or cleanup). */
export function fileFacts(params: { path: string; name: string }): FileFacts | undefined {
  const stats = lstatSync(params.path, { bigint: true, throwIfNoEntry: false });
  if (!stats) return undefined;
  return {
    path: params.path,
    name: params.name,
    // Links and other non-files free no data bytes of their own.
    size: stats.isFile() ? Number(stats.size) : 0,
    nlink: Number(stats.nlink),
    inodeKey: `${stats.dev}:${stats.ino}`,
    mtimeMs: Number(stats.mtimeMs),
    atimeMs: Number(stats.atimeMs),
  };
}

/** A snapshot link keeps its blob: the same rule scanCache uses (the target's folder is this repo's blobs/). */
function noteLinkedBlob(params: { path: string; inventory: RepoInventory }): void {
  let target: string;
  try {
    target = readlinkSync(params.path);
  } catch {
    return;
  }
  const resolved = resolve(dirname(params.path), target);
  if (dirname(resolved) === join(params.inventory.repoPath, 'blobs')) params.inventory.linkedBlobs.add(basename(resolved));
}
