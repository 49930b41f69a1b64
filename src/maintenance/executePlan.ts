/**
 * Runs a plan in the safe order (refs, snapshot entries, blobs, folders; see
 * PLAN_PHASES), through the cache-root guard for every path. Other tools keep
 * working while we run, so each removal re-checks what the plan assumed:
 * a ref that moved is kept, a folder that is no longer empty is kept. Blobs and
 * partials go only under their etag lock (see claimBlobs): one whose lock is
 * busy is kept, and so is a blob that a snapshot links to once we hold it, so a
 * writer linking a blob and this cleanup deleting it exclude each other.
 */
import { lstat, readdir, rmdir } from 'node:fs/promises';
import type { Dirent } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { HubcacheError, fromSystemError, isHubcacheError } from '../errors.js';
import { assertInsideCache, removeInsideCache } from '../cache/insideCache.js';
import { readRef } from '../cache/readRefs.js';
import { CLAIM_BATCH_SIZE, claimBlobs, type BlobClaims } from './claimBlobs.js';
import { partialStateFile } from './partialStateFile.js';
import { planPhase, type Plan, type PlanItem } from './plan.js';
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
  const items = params.plan.items;
  // The claims of the batch of blobs being removed; released before the next batch is claimed.
  let claims: { paths: Set<string>; claims: BlobClaims } | undefined;
  let lastPhase = -1;
  try {
    for (const [index, item] of items.entries()) {
      const phase = planPhase(item.kind);
      if (phase < lastPhase) {
        throw new HubcacheError({ code: 'E_INTERNAL', message: `Plan items are out of order at ${item.path} (${item.kind})` });
      }
      lastPhase = phase;
      let step: ExecuteStep;
      try {
        if (isClaimed(item) && !claims?.paths.has(item.path)) {
          await claims?.claims.release();
          claims = undefined;
          const paths = claimBatch({ items, from: index });
          claims = { paths: new Set(paths), claims: await claimBlobs({ cacheDir, repoPath: repoOfBlob(item.path), paths }) };
        }
        step = { index, item, ...(await removeItem({ cacheDir, item, claims: claims?.claims })) };
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
  } finally {
    // Also when onStep throws (a test's injected crash): a lock left held would stall every writer of that blob.
    await claims?.claims.release();
  }
  return result;
}

/** Blobs and partial downloads are removed only under their etag lock. */
function isClaimed(item: PlanItem): boolean {
  return item.kind === 'blob' || item.kind === 'partial';
}

/** `<repo>/blobs/<name>` -> `<repo>`. */
function repoOfBlob(path: string): string {
  return dirname(dirname(path));
}

/** The run of blob and partial items of one repo starting at `from`, at most CLAIM_BATCH_SIZE. */
function claimBatch(params: { items: PlanItem[]; from: number }): string[] {
  const { items, from } = params;
  const repoPath = repoOfBlob((items[from] as PlanItem).path);
  const paths: string[] = [];
  for (let i = from; i < items.length && paths.length < CLAIM_BATCH_SIZE; i++) {
    const item = items[i] as PlanItem;
    if (!isClaimed(item) || repoOfBlob(item.path) !== repoPath) break;
    paths.push(item.path);
  }
  return paths;
}

type Outcome = Omit<ExecuteStep, 'index' | 'item'>;

async function removeItem(params: { cacheDir: string; item: PlanItem; claims: BlobClaims | undefined }): Promise<Outcome> {
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
  if (isClaimed(item)) {
    const state = params.claims?.state(item.path);
    if (state === 'busy') return { status: 'skipped', bytesFreed: 0, detail: 'its lock is held by a running download' };
    if (state !== 'held') {
      // Without the lock a writer could link it (or still be writing it) as we delete it.
      return { status: 'skipped', bytesFreed: 0, detail: params.claims?.problem(item.path) ?? 'its lock cannot be taken, so it may be in use' };
    }
    // Read with the lock held: no writer can add a link to it until we let go.
    if (item.kind === 'blob' && params.claims?.linked.has(basename(item.path))) {
      return { status: 'skipped', bytesFreed: 0, detail: 'a snapshot links to it again (linked by another process since planning)' };
    }
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
