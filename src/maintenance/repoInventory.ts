/**
 * What the planners need about a repo folder beyond what `scanCache` reports:
 * every blob with its inode (hard links), partial downloads, temp files,
 * `.no_exist/` and `trees/` entries, and the folder tree (to find folders
 * left empty). One walk, never following links: a `blobs` folder that is a
 * link to elsewhere is not walked, so nothing behind it can be planned.
 */
import { lstat, readdir } from 'node:fs/promises';
import type { Dirent } from 'node:fs';
import { join } from 'node:path';
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
  /** Complete blobs by name (regular files in `blobs/`). */
  blobs: Map<string, FileFacts>;
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

export async function readRepoInventory(params: { repoPath: string; folderName: string }): Promise<RepoInventory> {
  const inventory: RepoInventory = {
    repoPath: params.repoPath,
    folderName: params.folderName,
    blobs: new Map(),
    partials: [],
    temps: [],
    noExist: new Map(),
    trees: new Map(),
    strayLinks: [],
    dirs: [],
    empty: false,
  };
  inventory.empty = await walk({ dir: params.repoPath, area: undefined, depth: 0, inventory });
  return inventory;
}

/** Returns whether the folder holds no non-folder entry anywhere below. */
async function walk(params: { dir: string; area: Area | undefined; depth: number; inventory: RepoInventory }): Promise<boolean> {
  const { dir, depth, inventory } = params;
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    // Gone (a concurrent cleanup) or unreadable (doctor's business): plan nothing below it, and never call it empty.
    return false;
  }
  let empty = true;
  await Promise.all(
    entries.map(async (entry) => {
      const path = join(dir, entry.name);
      const area = params.area ?? AREAS[entry.name] ?? 'other';
      if (entry.isDirectory()) {
        if (area === 'noExist' && depth === 1) inventory.noExist.set(entry.name, path);
        const childEmpty = await walk({ dir: path, area, depth: depth + 1, inventory });
        if (!childEmpty) empty = false;
        return;
      }
      empty = false;
      if (entry.isSymbolicLink() && area !== 'snapshots') inventory.strayLinks.push(path);
      const wantsFacts =
        (area === 'blobs' && depth === 1) || isTempFileName(entry.name) || (area === 'trees' && depth === 1 && entry.name.endsWith('.json'));
      if (!wantsFacts) return;
      const facts = await fileFacts({ path, name: entry.name });
      if (!facts) return;
      if (isTempFileName(entry.name)) inventory.temps.push(facts.file);
      else if (area === 'trees') inventory.trees.set(entry.name.slice(0, -'.json'.length), facts.file);
      else if (isPartialFileName(entry.name)) inventory.partials.push(facts.file);
      else if (facts.isFile) inventory.blobs.set(entry.name, facts.file);
    }),
  );
  if (depth > 0) inventory.dirs.push({ path: dir, empty });
  return empty;
}

async function fileFacts(params: { path: string; name: string }): Promise<{ file: FileFacts; isFile: boolean } | undefined> {
  try {
    const stats = await lstat(params.path, { bigint: true });
    return {
      isFile: stats.isFile(),
      file: {
        path: params.path,
        name: params.name,
        // Links and other non-files free no data bytes of their own.
        size: stats.isFile() ? Number(stats.size) : 0,
        nlink: Number(stats.nlink),
        inodeKey: `${stats.dev}:${stats.ino}`,
        mtimeMs: Number(stats.mtimeMs),
        atimeMs: Number(stats.atimeMs),
      },
    };
  } catch {
    // Removed between readdir and lstat by a concurrent writer or cleanup: nothing to plan.
    return undefined;
  }
}
