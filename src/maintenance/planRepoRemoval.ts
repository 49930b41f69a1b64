/**
 * The one place that decides what removing revisions (or single files) of a
 * repo means on disk; rm, prune and evict all go through it. A blob goes only
 * when every snapshot link to it goes, so blobs shared with kept revisions
 * stay. When every revision goes, the repo goes as a whole: refs, markers,
 * unlinked blobs, and finally the folder itself.
 */
import { lstatSync } from 'node:fs';
import { readlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { CachedRepo } from '../cache/scanCache.js';
import type { DraftItem, PlanRevision } from './plan.js';
import { fileFacts, type FileFacts, type RepoInventory } from './repoInventory.js';
import { partialItem } from './partialStateFile.js';
import { treeBytes } from './treeBytes.js';

export interface RepoRemovalParams {
  repo: CachedRepo;
  inventory: RepoInventory;
  /** Whole revisions to remove: commit -> reason. */
  revisions: Map<string, string>;
  /** Single files to remove: commit -> (path in repo -> reason). */
  files?: Map<string, Map<string, string>>;
  /** Refs to remove even though their revision stays or has no snapshot: name -> reason. */
  refs?: Map<string, string>;
  /** Remove the repo as a whole even if it has no revision to remove (rm of a repo with an empty snapshots/). */
  wholeRepo?: boolean;
  /** Partial downloads the caller found not in use; planned only when the whole repo goes. */
  partials?: FileFacts[];
  /** Reason given to the repo folder and its leftovers when the whole repo goes. */
  wholeRepoReason?: string;
}

export interface RepoRemoval {
  items: DraftItem[];
  revisions: Array<Omit<PlanRevision, 'bytes'>>;
  wholeRepo: boolean;
}

export async function planRepoRemoval(params: RepoRemovalParams): Promise<RepoRemoval> {
  const { repo, inventory } = params;
  const removed = params.revisions;
  const files = params.files ?? new Map<string, Map<string, string>>();
  const hasFileRemovals = [...files.values()].some((m) => m.size > 0);
  const wholeRepo =
    params.wholeRepo === true || (!hasFileRemovals && repo.revisions.length > 0 && repo.revisions.every((r) => removed.has(r.commit)));
  const wholeReason = params.wholeRepoReason ?? 'every revision of the repo is removed';
  const repoName = repo.folderName;
  const items: DraftItem[] = [];
  const short = (commit: string): string => commit.slice(0, 12);

  // Refs: those of removed revisions would dangle; an explicit ref removal may stand alone.
  const refsDir = join(repo.repoPath, 'refs');
  for (const [name, commit] of Object.entries(repo.refs)) {
    let reason: string | undefined = params.refs?.get(name);
    if (removed.has(commit)) reason ??= `points to removed revision ${short(commit)}`;
    if (wholeRepo) reason ??= wholeReason;
    if (reason === undefined) continue;
    const path = join(refsDir, ...name.split('/'));
    const { inode } = entryOf(path);
    items.push({ kind: 'ref', path, bytes: inode?.size ?? 0, reason, repo: repoName, revision: commit, ...(inode ? { inode } : {}) });
    // refs/refs/pr/1 leaves refs/refs/pr behind; keep refs/ itself, other tools expect it.
    for (let dir = dirname(path); dir !== refsDir && dir.startsWith(refsDir); dir = dirname(dir)) {
      items.push({ kind: 'folder', path: dir, bytes: 0, reason: 'left empty by the removed ref', repo: repoName, revision: commit });
    }
  }

  // Who links to each blob, to know which blobs lose their last link.
  const linkedBy = new Map<string, Array<{ commit: string; path: string }>>();
  for (const revision of repo.revisions) {
    for (const file of revision.files) {
      if (file.layout !== 'symlink' || file.blobName === undefined) continue;
      const list = linkedBy.get(file.blobName) ?? [];
      list.push({ commit: revision.commit, path: file.path });
      linkedBy.set(file.blobName, list);
    }
  }
  const goes = (link: { commit: string; path: string }): boolean => removed.has(link.commit) || files.get(link.commit)?.has(link.path) === true;

  const planRevisions: RepoRemoval['revisions'] = [];
  for (const revision of repo.revisions) {
    const reason = removed.get(revision.commit);
    const fileReasons = files.get(revision.commit);
    if (reason === undefined && !fileReasons) continue;
    if (reason !== undefined) planRevisions.push({ repo: repoName, commit: revision.commit, refs: revision.refs, reason });
    const emptiedFolders = new Set<string>();
    for (const file of revision.files) {
      const why = reason ?? fileReasons?.get(file.path);
      if (why === undefined) continue;
      // A link frees nothing itself and needs no lstat (prune plans thousands); a copy frees its bytes.
      items.push(
        file.layout === 'symlink'
          ? { kind: 'link', path: file.snapshotPath, bytes: 0, reason: why, repo: repoName, revision: revision.commit }
          : snapshotEntryItem({ path: file.snapshotPath, reason: why, repo: repoName, revision: revision.commit }),
      );
      if (reason === undefined) {
        // A single file: drop the folders it leaves empty (only those: a folder that keeps a file
        // would be reported as "kept" after the run), once each, but keep the revision's own folder.
        for (let dir = dirname(file.snapshotPath); dir !== revision.snapshotPath && dir.startsWith(revision.snapshotPath); dir = dirname(dir)) {
          if (emptiedFolders.has(dir)) continue;
          const keepsAFile = revision.files.some((other) => other.snapshotPath.startsWith(`${dir}/`) && fileReasons?.get(other.path) === undefined);
          if (keepsAFile) break;
          emptiedFolders.add(dir);
        }
      }
    }
    // Deepest first: removing a parent first would take its emptied children with it ("already gone").
    for (const dir of [...emptiedFolders].sort((x, y) => y.split('/').length - x.split('/').length)) {
      items.push({ kind: 'folder', path: dir, bytes: 0, reason: 'left empty by the removed file', repo: repoName, revision: revision.commit });
    }
    if (reason === undefined) continue;
    const noExist = inventory.noExist.get(revision.commit);
    if (noExist) {
      items.push({ kind: 'noExist', path: noExist, bytes: await treeBytes({ path: noExist }), reason: `"file absent" markers of ${short(revision.commit)}`, repo: repoName, revision: revision.commit });
    }
    const tree = inventory.trees.get(revision.commit);
    if (tree) items.push({ ...fileItem({ facts: tree, kind: 'tree', reason: `file listing of ${short(revision.commit)}`, repo: repoName }), revision: revision.commit });
    items.push({ kind: 'folder', path: revision.snapshotPath, bytes: 0, reason: `snapshot of ${short(revision.commit)}`, repo: repoName, revision: revision.commit });
  }

  // Hand-made links in snapshots/ (like `snapshots/latest`) to a removed revision would dangle.
  const snapshotsDir = join(repo.repoPath, 'snapshots');
  for (const warning of repo.warnings) {
    if (warning.code !== 'stray-entry' || dirname(warning.path) !== snapshotsDir) continue;
    const target = await readlink(warning.path).catch(() => undefined);
    const pointsToRemoved = target !== undefined && dirname(resolve(snapshotsDir, target)) === snapshotsDir && removed.has(resolve(snapshotsDir, target).slice(snapshotsDir.length + 1));
    if (pointsToRemoved) items.push({ kind: 'link', path: warning.path, bytes: 0, reason: `hand-made link to removed revision ${short(target.split('/').pop() ?? '')}`, repo: repoName });
    else if (wholeRepo) items.push(snapshotEntryItem({ path: warning.path, reason: wholeReason, repo: repoName }));
  }

  for (const [name, path] of inventory.blobs) {
    const links = linkedBy.get(name) ?? [];
    let reason: string | undefined;
    if (wholeRepo) reason = links.length > 0 ? 'only removed revisions link to it' : 'no snapshot links to it';
    else if (links.length > 0 && links.every(goes)) {
      const commits = [...new Set(links.map((l) => l.commit))];
      reason = commits.length === 1 ? `only ${short(commits[0] as string)} linked to it` : `only removed revisions (${commits.map(short).join(', ')}) linked to it`;
    }
    if (reason === undefined) continue;
    const facts = fileFacts({ path, name });
    if (!facts) continue;
    const first = links.find(goes);
    items.push({ ...fileItem({ facts, kind: 'blob', reason, repo: repoName }), ...(first ? { revision: first.commit } : {}) });
  }

  if (wholeRepo) {
    for (const [commit, path] of inventory.noExist) {
      if (!removed.has(commit)) items.push({ kind: 'noExist', path, bytes: await treeBytes({ path }), reason: wholeReason, repo: repoName });
    }
    for (const [commit, facts] of inventory.trees) if (!removed.has(commit)) items.push(fileItem({ facts, kind: 'tree', reason: wholeReason, repo: repoName }));
    for (const partial of params.partials ?? []) {
      items.push(await partialItem({ cacheDir: dirname(repo.repoPath), repo: repoName, partial, reason: 'unfinished download, not locked by any process' }));
    }
    for (const facts of inventory.temps) items.push(fileItem({ facts, kind: 'temp', reason: 'temp file of an interrupted write', repo: repoName }));
    for (const path of inventory.strayLinks) items.push({ kind: 'link', path, bytes: 0, reason: 'link in the repo folder (its target is not touched)', repo: repoName });
    // A partial download that stays (locked, or too fresh) keeps the skeleton too: scanners
    // (@huggingface/hub's among them) warn about a repo folder without refs/ and snapshots/.
    const keptPartials = inventory.partials.length - (params.partials ?? []).length;
    if (keptPartials === 0) items.push({ kind: 'folder', path: repo.repoPath, bytes: 0, reason: wholeReason, repo: repoName });
  }
  return { items, revisions: planRevisions, wholeRepo };
}

function fileItem(params: { facts: FileFacts; kind: DraftItem['kind']; reason: string; repo: string }): DraftItem {
  const { facts } = params;
  return {
    kind: params.kind,
    path: facts.path,
    bytes: facts.size,
    reason: params.reason,
    repo: params.repo,
    inode: { key: facts.inodeKey, size: facts.size, nlink: facts.nlink },
  };
}

/**
 * A snapshot entry: a link frees nothing itself, a copied file (no-symlink
 * layout) frees its bytes, and a stray folder goes only if it ends up empty.
 */
function snapshotEntryItem(params: { path: string; reason: string; repo: string; revision?: string }): DraftItem {
  const base = { path: params.path, reason: params.reason, repo: params.repo, ...(params.revision ? { revision: params.revision } : {}) };
  const entry = entryOf(params.path);
  if (entry.isDirectory) return { ...base, kind: 'folder', bytes: 0 };
  if (!entry.inode) return { ...base, kind: 'link', bytes: 0 };
  return { ...base, kind: 'file', bytes: entry.inode.size, inode: entry.inode };
}

/** Synchronous: prune plans thousands of these, and a promise per lstat costs more than the lstat. */
function entryOf(path: string): { isDirectory: boolean; inode?: { key: string; size: number; nlink: number } } {
  const stats = lstatSync(path, { bigint: true, throwIfNoEntry: false });
  // Gone since the scan: it frees nothing, and the executor will find it missing.
  if (!stats) return { isDirectory: false };
  if (!stats.isFile()) return { isDirectory: stats.isDirectory() };
  return { isDirectory: false, inode: { key: `${stats.dev}:${stats.ino}`, size: Number(stats.size), nlink: Number(stats.nlink) } };
}
