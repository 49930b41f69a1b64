/**
 * Runs a plan in the safe order (refs, snapshot entries, blobs, folders; see
 * PLAN_PHASES), through the cache-root guard for every path. Other tools keep
 * working while we run, so each removal re-checks what the plan assumed:
 * a ref that moved is kept, a blob that got linked again is kept, a partial
 * whose lock is held is kept, a folder that is no longer empty is kept.
 */
import { lstat, readdir, rmdir } from 'node:fs/promises';
import type { Dirent } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { HubcacheError, fromSystemError, isHubcacheError } from '../errors.js';
import { assertInsideCache, removeInsideCache } from '../cache/insideCache.js';
import { readRef } from '../cache/readRefs.js';
import { etagLockState } from './etagLock.js';
import { partialStateFile } from './partialStateFile.js';
import { planPhase, type Plan, type PlanItem } from './plan.js';
import { readRepoInventory } from './repoInventory.js';
import { relinkItem } from './relinkItem.js';
import { treeBytes } from './treeBytes.js';

export interface ExecuteStep {
  /** Position in `plan.items`. */
  index: number;
  item: PlanItem;
  status: 'removed' | 'missing' | 'skipped' | 'failed';
  bytesFreed: number;
  /** Why it was skipped or failed. */
  detail?: string;
}

export interface ExecuteResult {
  cacheDir: string;
  removed: number;
  missing: number;
  bytesFreed: number;
  /** Items left in place on purpose (changed since planning); not an error. */
  skipped: ExecuteStep[];
  /** Items that could not be removed (permissions, outside the cache); exit 1. */
  failed: ExecuteStep[];
}

export interface ExecutePlanParams {
  cacheDir: string;
  plan: Plan;
  /** Called after every item; a throw stops the run there (tests inject crashes this way). */
  onStep?: (step: ExecuteStep) => void | Promise<void>;
}

export async function executePlan(params: ExecutePlanParams): Promise<ExecuteResult> {
  const cacheDir = resolve(params.cacheDir);
  if (resolve(params.plan.cacheDir) !== cacheDir) {
    throw new HubcacheError({
      code: 'E_INTERNAL',
      message: `Plan was made for ${params.plan.cacheDir}, not ${cacheDir}`,
      data: { planCacheDir: params.plan.cacheDir, cacheDir },
    });
  }
  const result: ExecuteResult = { cacheDir, removed: 0, missing: 0, bytesFreed: 0, skipped: [], failed: [] };
  const linkedNow = new Map<string, Set<string>>();
  let lastPhase = -1;
  for (const [index, item] of params.plan.items.entries()) {
    const phase = planPhase(item.kind);
    if (phase < lastPhase) {
      throw new HubcacheError({ code: 'E_INTERNAL', message: `Plan items are out of order at ${item.path} (${item.kind})` });
    }
    lastPhase = phase;
    let step: ExecuteStep;
    try {
      step = { index, item, ...(await removeItem({ cacheDir, item, linkedNow })) };
    } catch (err) {
      const typed = isHubcacheError(err) ? err : fromSystemError({ err, path: item.path, action: `remove ${item.kind}` });
      step = { index, item, status: 'failed', bytesFreed: 0, detail: typed instanceof Error ? typed.message : String(typed) };
    }
    if (step.status === 'removed') result.removed += 1;
    else if (step.status === 'missing') result.missing += 1;
    else if (step.status === 'skipped') result.skipped.push(step);
    else result.failed.push(step);
    result.bytesFreed += step.bytesFreed;
    await params.onStep?.(step);
  }
  return result;
}

type Outcome = Omit<ExecuteStep, 'index' | 'item'>;

async function removeItem(params: { cacheDir: string; item: PlanItem; linkedNow: Map<string, Set<string>> }): Promise<Outcome> {
  const { cacheDir, item } = params;
  await assertInsideCache({ cacheDir, path: item.path });
  let stats;
  try {
    stats = await lstat(item.path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { status: 'missing', bytesFreed: 0 };
    throw err;
  }

  // verify --fix's rewrite of an absolute link: the one kind that replaces rather than removes.
  if (item.kind === 'relink') return relinkItem({ cacheDir, item, stats });
  if (item.kind === 'folder') {
    if (!stats.isDirectory()) return { status: 'skipped', bytesFreed: 0, detail: 'no longer a folder' };
    const gone = await removeEmptyTree({ cacheDir, path: item.path });
    return gone ? { status: 'removed', bytesFreed: 0 } : { status: 'skipped', bytesFreed: 0, detail: 'not empty (it holds something the plan keeps, or something new)' };
  }
  if (item.kind === 'noExist') {
    const bytes = await treeBytes({ path: item.path });
    return (await removeInsideCache({ cacheDir, path: item.path, recursive: true })) ? { status: 'removed', bytesFreed: bytes } : { status: 'missing', bytesFreed: 0 };
  }
  if (stats.isDirectory()) return { status: 'skipped', bytesFreed: 0, detail: 'now a folder, not a file' };

  if (item.kind === 'ref' && item.revision !== undefined) {
    const now = await readRef({ refPath: item.path });
    // A download moved the branch since we planned: the new commit is not ours to drop.
    if (now !== undefined && now !== item.revision) return { status: 'skipped', bytesFreed: 0, detail: `ref now points to ${now}, changed since planning` };
  }
  if (item.kind === 'blob') {
    const repoPath = dirname(dirname(item.path));
    let linked = params.linkedNow.get(repoPath);
    if (!linked) {
      // Re-read the snapshots right before the repo's first blob goes: another tool may have
      // linked a blob since we planned. The window left (between this read and the unlink)
      // is as small as a cleanup that cannot lock out writers can make it.
      linked = readRepoInventory({ repoPath, folderName: basename(repoPath), readLinks: true }).linkedBlobs;
      params.linkedNow.set(repoPath, linked);
    }
    if (linked.has(basename(item.path))) return { status: 'skipped', bytesFreed: 0, detail: 'a snapshot links to it again (linked by another process since planning)' };
  }
  if ((item.kind === 'blob' || item.kind === 'partial') && item.repo !== undefined) {
    // Writers hold the etag's lock while they write a partial and while they link a fresh blob.
    const lock = await etagLockState({ cacheDir, repo: item.repo, name: basename(item.path) });
    if (lock === 'held') return { status: 'skipped', bytesFreed: 0, detail: 'its lock is held by a running download' };
    // A blob has had its links re-read just now; a partial whose lock cannot be read might still be growing.
    if (lock === 'unknown' && item.kind === 'partial') return { status: 'skipped', bytesFreed: 0, detail: 'its lock state cannot be read (flock unavailable), so it may still be in use' };
  }
  // Hard links: the bytes are freed only when the last link goes.
  const bytes = stats.isFile() && stats.nlink <= 1 ? stats.size : 0;
  if (!(await removeInsideCache({ cacheDir, path: item.path }))) return { status: 'missing', bytesFreed: 0 };
  if (item.kind === 'partial' && item.repo !== undefined) {
    // The progress record goes with its partial, never before it: a resumed download must not trust a stale count.
    const record = await partialStateFile({ cacheDir, repo: item.repo, partialPath: item.path });
    if (record && (await removeInsideCache({ cacheDir, path: record.path }))) return { status: 'removed', bytesFreed: bytes + record.bytes };
  }
  return { status: 'removed', bytesFreed: bytes };
}

/**
 * Removes a folder and the folders below it, bottom-up, only where they are
 * empty: never a file. Returns whether the folder itself is gone.
 */
async function removeEmptyTree(params: { cacheDir: string; path: string }): Promise<boolean> {
  let entries: Dirent[];
  try {
    entries = await readdir(params.path, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw err;
  }
  let allGone = true;
  for (const entry of entries) {
    if (!entry.isDirectory() || !(await removeEmptyTree({ cacheDir: params.cacheDir, path: join(params.path, entry.name) }))) allGone = false;
  }
  if (!allGone) return false;
  await assertInsideCache({ cacheDir: params.cacheDir, path: params.path });
  try {
    await rmdir(params.path);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return true;
    // Something was created in it since we listed it: a writer is using it.
    if (code === 'ENOTEMPTY' || code === 'EEXIST') return false;
    throw err;
  }
}
