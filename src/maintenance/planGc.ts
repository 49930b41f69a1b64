/**
 * `hubcache gc`: what nothing uses any more. Blobs no snapshot links to,
 * folders left empty, temp files of interrupted writes, and the `.no_exist`
 * markers and `trees/` listings of revisions that are gone. Revisions
 * themselves are never touched (that is prune's and evict's job).
 *
 * Everything younger than `minAgeMs` stays: a writer commits a blob a moment
 * before it links it, and creates a folder a moment before it fills it.
 */
import { lstat, readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { isCommitHash } from '../cache/revision.js';
import { HUBCACHE_DIR_NAME } from '../cache/repoPaths.js';
import { scanCache, type CachedRepo } from '../cache/scanCache.js';
import { makePlan, type DraftItem, type Plan } from './plan.js';
import { readRepoInventory, type FileFacts, type RepoInventory } from './repoInventory.js';
import { listPartialStateFiles } from './partialStateFile.js';
import { isTempFileName } from './tempFiles.js';
import { treeBytes } from './treeBytes.js';

export const DEFAULT_GC_MIN_AGE_MS = 10 * 60 * 1000;

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
  const scan = await scanCache({ cacheDir: params.cacheDir });
  const counters = { young: 0 };
  const perRepo = await Promise.all(
    scan.repos.map(async (repo) => {
      const inventory = await readRepoInventory({ repoPath: repo.repoPath, folderName: repo.folderName });
      return planRepoGc({ repo, inventory, old, counters });
    }),
  );
  const items: DraftItem[] = perRepo.flat();
  if (scan.exists) items.push(...(await planRootTemps({ cacheDir: scan.cacheDir, old, counters })));
  const notes: string[] = [];
  if (counters.young > 0) {
    notes.push(`${counters.young} unused item(s) stay because they changed less than ${Math.round(minAge / 60000)} min ago (a writer may still be using them); --min-age 0 includes them`);
  }
  return makePlan({ command: 'gc', cacheDir: scan.cacheDir, items, notes });
}

async function planRepoGc(params: {
  repo: CachedRepo;
  inventory: RepoInventory;
  old: (mtimeMs: number) => boolean;
  counters: { young: number };
}): Promise<DraftItem[]> {
  const { repo, inventory, old, counters } = params;
  const items: DraftItem[] = [];
  const name = repo.folderName;
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

  const linked = new Set<string>();
  for (const revision of repo.revisions) for (const file of revision.files) if (file.blobName !== undefined) linked.add(file.blobName);
  for (const [blobName, facts] of inventory.blobs) {
    if (linked.has(blobName) || keepIfYoung(facts.mtimeMs)) continue;
    items.push(item(facts, 'blob', 'no snapshot links to it'));
  }
  for (const facts of inventory.temps) {
    if (!keepIfYoung(facts.mtimeMs)) items.push(item(facts, 'temp', 'temp file of an interrupted write'));
  }

  // Markers and listings serve a revision that still has a snapshot or a ref; the others are leftovers.
  const live = new Set<string>([...repo.revisions.map((r) => r.commit), ...Object.values(repo.refs).filter(isCommitHash)]);
  for (const [commit, path] of inventory.noExist) {
    if (live.has(commit)) continue;
    items.push({ kind: 'noExist', path, bytes: await treeBytes({ path }), reason: `"file absent" markers of ${commit.slice(0, 12)}, which is no longer cached`, repo: name });
  }
  for (const [commit, facts] of inventory.trees) {
    if (!live.has(commit)) items.push(item(facts, 'tree', `file listing of ${commit.slice(0, 12)}, which is no longer cached`));
  }
  items.push(...(await emptyFolders({ repo, inventory, live, old, counters })));
  return items;
}

/**
 * Empty folders worth removing, topmost only (the executor removes the empty
 * tree below). blobs/, refs/ and snapshots/ stay while the repo has anything:
 * other tools expect them. A snapshot folder a ref points to stays even empty,
 * or the ref would dangle.
 */
async function emptyFolders(params: {
  repo: CachedRepo;
  inventory: RepoInventory;
  live: Set<string>;
  old: (mtimeMs: number) => boolean;
  counters: { young: number };
}): Promise<DraftItem[]> {
  const { repo, inventory } = params;
  const referenced = new Set(Object.values(repo.refs));
  const snapshotsDir = join(repo.repoPath, 'snapshots');
  const structural = new Set(['blobs', 'refs', 'snapshots'].map((d) => join(repo.repoPath, d)));
  const mtimes = new Map<string, number>();
  await Promise.all(
    inventory.dirs
      .filter((d) => d.empty)
      .map(async (d) => {
        const stats = await lstat(d.path).catch(() => undefined);
        if (stats) mtimes.set(d.path, stats.mtimeMs);
      }),
  );
  const whole = inventory.empty && [...mtimes.values()].every(params.old) && (await isOld({ path: repo.repoPath, old: params.old }));
  if (whole) return [{ kind: 'folder', path: repo.repoPath, bytes: 0, reason: 'empty repo folder', repo: repo.folderName }];

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
    .map((path) => ({ kind: 'folder' as const, path, bytes: 0, reason: 'empty folder', repo: repo.folderName }));
}

async function isOld(params: { path: string; old: (mtimeMs: number) => boolean }): Promise<boolean> {
  const stats = await lstat(params.path).catch(() => undefined);
  return stats !== undefined && params.old(stats.mtimeMs);
}

/** Temp files in the cache root and in hubcache's own folder (access records). */
async function planRootTemps(params: { cacheDir: string; old: (mtimeMs: number) => boolean; counters: { young: number } }): Promise<DraftItem[]> {
  const items: DraftItem[] = [];
  const root = await readdir(params.cacheDir, { withFileTypes: true }).catch(() => []);
  const candidates = root.filter((e) => e.isFile() && isTempFileName(e.name)).map((e) => join(params.cacheDir, e.name));
  const own: RepoInventory = await readRepoInventory({ repoPath: join(params.cacheDir, HUBCACHE_DIR_NAME), folderName: HUBCACHE_DIR_NAME });
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
