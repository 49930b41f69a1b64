/**
 * `hubcache gc`: what nothing uses any more. Blobs no snapshot links to,
 * folders left empty, temp files of interrupted writes, and the `.no_exist`
 * markers and `trees/` listings of revisions that are gone. Revisions
 * themselves are never touched (that is prune's and evict's job).
 *
 * Everything younger than `minAgeMs` stays: a writer commits a blob a moment
 * before it links it, and creates a folder a moment before it fills it.
 */
import { lstatSync, readdirSync, type Dirent } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { readRefsSync } from '../cache/readRefs.js';
import { parseRepoFolderName } from '../cache/repoId.js';
import { isCommitHash } from '../cache/revision.js';
import { HUBCACHE_DIR_NAME } from '../cache/repoPaths.js';
import { cacheTempDir, TEMP_DIR_NAME } from '../cache/replaceViaTemp.js';
import { makePlan, type DraftItem, type Plan } from './plan.js';
import { fileFacts, readRepoInventory, type FileFacts, type RepoInventory } from './repoInventory.js';
import { listPartialStateFiles } from './partialStateFile.js';
import { isTempFileName } from './tempFiles.js';
import { treeBytes } from './treeBytes.js';

export const DEFAULT_GC_MIN_AGE_MS = 10 * 60 * 1000;

/**
 * A file in the temp folder lives from "temp written" to "renamed into place": a
 * moment. One younger than this may still be on its way (even with --min-age 0,
 * removing it would fail a live write); one older was left by a killed writer.
 */
export const TEMP_IN_FLIGHT_MS = 60 * 1000;

export interface PlanGcParams {
  cacheDir: string;
  /** Leave alone what was written more recently than this (default 10 minutes). */
  minAgeMs?: number;
  now?: number;
}

export async function planGc(params: PlanGcParams): Promise<Plan> {
  const now = params.now ?? Date.now();
  const minAge = params.minAgeMs ?? DEFAULT_GC_MIN_AGE_MS;
  const old = (mtimeMs: number): boolean => now - mtimeMs >= minAge;
  const cacheDir = resolve(params.cacheDir);
  const counters = { young: 0 };
  const items: DraftItem[] = [];
  // gc needs no revision details, only which blobs links point to: its own walk is a third of a full scan.
  for (const repo of listRepoFolders({ cacheDir })) {
    const inventory = readRepoInventory({ repoPath: join(cacheDir, repo), folderName: repo, readLinks: true });
    const refs = readRefsSync({ refsDir: join(cacheDir, repo, 'refs') }).refs;
    items.push(...(await planRepoGc({ inventory, refs, old, counters })));
  }
  items.push(...(await planRootTemps({ cacheDir, old, counters })));
  const inFlight = { young: 0 };
  items.push(...(await planTempDir({ cacheDir, old: (mtimeMs) => old(mtimeMs) && now - mtimeMs >= TEMP_IN_FLIGHT_MS, counters: inFlight })));
  const notes: string[] = [];
  if (inFlight.young > 0) notes.push(`${inFlight.young} temp file(s) in ${TEMP_DIR_NAME} stay because a write may still be renaming them`);
  if (counters.young > 0) {
    notes.push(`${counters.young} unused item(s) stay because they changed less than ${Math.round(minAge / 60000)} min ago (a writer may still be using them); --min-age 0 includes them`);
  }
  return makePlan({ command: 'gc', cacheDir, items, notes });
}

/** Repo folders at the root, by the rules scanCache applies (real folders with a repo folder name). */
function listRepoFolders(params: { cacheDir: string }): string[] {
  let entries: Dirent[];
  try {
    entries = readdirSync(params.cacheDir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return entries
    .filter((e) => e.isDirectory() && !e.name.startsWith('.') && parseRepoFolderName({ name: e.name }) !== undefined)
    .map((e) => e.name)
    .sort();
}

async function planRepoGc(params: {
  inventory: RepoInventory;
  refs: Map<string, string>;
  old: (mtimeMs: number) => boolean;
  counters: { young: number };
}): Promise<DraftItem[]> {
  const { inventory, old, counters } = params;
  const items: DraftItem[] = [];
  const name = inventory.folderName;
  const item = (facts: FileFacts, kind: DraftItem['kind'], reason: string): DraftItem => ({
    kind,
    path: facts.path,
    bytes: facts.size,
    reason,
    repo: name,
    inode: { key: facts.inodeKey, size: facts.size, nlink: facts.nlink },
  });
  const keepIfYoung = (mtimeMs: number): boolean => {
    if (old(mtimeMs)) return false;
    counters.young += 1;
    return true;
  };

  for (const [blobName, path] of inventory.blobs) {
    if (inventory.linkedBlobs.has(blobName)) continue;
    const facts = fileFacts({ path, name: blobName });
    if (!facts || keepIfYoung(facts.mtimeMs)) continue;
    items.push(item(facts, 'blob', 'no snapshot links to it'));
  }
  for (const facts of inventory.temps) {
    if (!keepIfYoung(facts.mtimeMs)) items.push(item(facts, 'temp', 'temp file of an interrupted write'));
  }

  // Markers and listings serve a revision that still has a snapshot or a ref; the others are leftovers.
  const referenced = new Set([...params.refs.values()].filter(isCommitHash));
  const live = new Set<string>([...inventory.snapshotCommits, ...referenced]);
  for (const [commit, path] of inventory.noExist) {
    if (live.has(commit)) continue;
    items.push({ kind: 'noExist', path, bytes: await treeBytes({ path }), reason: `"file absent" markers of ${commit.slice(0, 12)}, which is no longer cached`, repo: name });
  }
  for (const [commit, facts] of inventory.trees) {
    if (!live.has(commit)) items.push(item(facts, 'tree', `file listing of ${commit.slice(0, 12)}, which is no longer cached`));
  }
  items.push(...emptyFolders({ inventory, referenced: new Set(params.refs.values()), old, counters }));
  return items;
}

/**
 * Empty folders worth removing, topmost only (the executor removes the empty
 * tree below). blobs/, refs/ and snapshots/ stay while the repo has anything:
 * other tools expect them. A snapshot folder a ref points to stays even empty,
 * or the ref would dangle.
 */
function emptyFolders(params: {
  inventory: RepoInventory;
  /** Commits refs point to: their snapshot folders stay even when empty. */
  referenced: Set<string>;
  old: (mtimeMs: number) => boolean;
  counters: { young: number };
}): DraftItem[] {
  const { inventory, referenced } = params;
  const repoPath = inventory.repoPath;
  const snapshotsDir = join(repoPath, 'snapshots');
  const structural = new Set(['blobs', 'refs', 'snapshots'].map((d) => join(repoPath, d)));
  const mtimes = new Map<string, number>();
  for (const d of inventory.dirs) {
    if (!d.empty) continue;
    const stats = lstatSync(d.path, { throwIfNoEntry: false });
    if (stats) mtimes.set(d.path, stats.mtimeMs);
  }
  const repoStats = inventory.empty ? lstatSync(repoPath, { throwIfNoEntry: false }) : undefined;
  if (repoStats && [...mtimes.values()].every(params.old) && params.old(repoStats.mtimeMs)) {
    return [{ kind: 'folder', path: repoPath, bytes: 0, reason: 'empty repo folder', repo: inventory.folderName }];
  }

  // Children come before parents in inventory.dirs, so a folder's verdict can use its children's.
  const eligible = new Set<string>();
  const blockedParents = new Set<string>();
  for (const dir of inventory.dirs) {
    const mtime = mtimes.get(dir.path);
    const keep =
      !dir.empty ||
      mtime === undefined ||
      structural.has(dir.path) ||
      (dirname(dir.path) === snapshotsDir && referenced.has(dir.path.slice(snapshotsDir.length + 1))) ||
      blockedParents.has(dir.path);
    if (!keep && !params.old(mtime)) params.counters.young += 1;
    if (keep || !params.old(mtime)) {
      blockedParents.add(dirname(dir.path));
      continue;
    }
    eligible.add(dir.path);
  }
  return [...eligible]
    .filter((path) => !eligible.has(dirname(path)))
    .map((path) => ({ kind: 'folder' as const, path, bytes: 0, reason: 'empty folder', repo: inventory.folderName }));
}

/**
 * The cache's temp folder (replaceViaTemp): everything in it is a temp, whatever its name,
 * so a killed writer's leftovers go once they are old enough. Links are removed, never followed.
 */
async function planTempDir(params: { cacheDir: string; old: (mtimeMs: number) => boolean; counters: { young: number } }): Promise<DraftItem[]> {
  const dir = cacheTempDir(params.cacheDir);
  const items: DraftItem[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    if (entry.isDirectory()) continue;
    const path = join(dir, entry.name);
    const stats = await lstat(path).catch(() => undefined);
    if (!stats) continue;
    if (!params.old(stats.mtimeMs)) {
      params.counters.young += 1;
      continue;
    }
    items.push({ kind: 'temp', path, bytes: stats.isFile() ? stats.size : 0, reason: 'temp file of an interrupted write', repo: undefined });
  }
  return items;
}

/** Temp files older hubcache versions left in the cache root and in hubcache's own folder (access records). */
async function planRootTemps(params: { cacheDir: string; old: (mtimeMs: number) => boolean; counters: { young: number } }): Promise<DraftItem[]> {
  const items: DraftItem[] = [];
  const root = await readdir(params.cacheDir, { withFileTypes: true }).catch(() => []);
  const candidates = root.filter((e) => e.isFile() && isTempFileName(e.name)).map((e) => join(params.cacheDir, e.name));
  const own: RepoInventory = readRepoInventory({ repoPath: join(params.cacheDir, HUBCACHE_DIR_NAME), folderName: HUBCACHE_DIR_NAME });
  for (const record of await listPartialStateFiles({ cacheDir: params.cacheDir })) {
    if (await lstat(record.partialPath).then(() => true, () => false)) continue;
    if (!params.old(record.mtimeMs)) {
      params.counters.young += 1;
      continue;
    }
    items.push({ kind: 'temp', path: record.path, bytes: record.bytes, reason: 'progress record of a partial download that no longer exists', repo: undefined });
  }
  for (const path of [...candidates, ...own.temps.map((t) => t.path)]) {
    const stats = await lstat(path).catch(() => undefined);
    if (!stats) continue;
    if (!params.old(stats.mtimeMs)) {
      params.counters.young += 1;
      continue;
    }
    items.push({ kind: 'temp', path, bytes: stats.size, reason: 'temp file of an interrupted write', repo: undefined });
  }
  return items;
}
