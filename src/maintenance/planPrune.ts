/**
 * `hubcache prune`: revisions no ref points to (superseded by a newer
 * download of the branch, or fetched by commit and never named), and partial
 * downloads nobody is writing. Pinned revisions stay.
 */
import { formatRepoRef } from '../cache/repoId.js';
import { isCommitHash } from '../cache/revision.js';
import { scanCache } from '../cache/scanCache.js';
import { isEtagLockHeld } from './etagLock.js';
import { isPinned, makePlan, type DraftItem, type PinnedRevisions, type Plan, type PlanRevision } from './plan.js';
import { partialItem } from './partialStateFile.js';
import { planRepoRemoval } from './planRepoRemoval.js';
import { readRepoInventory, type FileFacts } from './repoInventory.js';

/** llama.cpp writes partials without a lock; one touched this recently may still be growing. */
export const DEFAULT_PARTIAL_MIN_AGE_MS = 60 * 60 * 1000;

export interface PlanPruneParams {
  cacheDir: string;
  pinned?: PinnedRevisions;
  /** Partials written more recently than this stay even when unlocked. */
  partialMinAgeMs?: number;
  now?: number;
}

export async function planPrune(params: PlanPruneParams): Promise<Plan> {
  const now = params.now ?? Date.now();
  const minAge = params.partialMinAgeMs ?? DEFAULT_PARTIAL_MIN_AGE_MS;
  const scan = await scanCache({ cacheDir: params.cacheDir });
  const items: DraftItem[] = [];
  const revisions: Array<Omit<PlanRevision, 'bytes'>> = [];
  const notes: string[] = [];
  let youngPartials = 0;
  let heldPartials = 0;
  await Promise.all(
    scan.repos.map(async (repo) => {
      const referenced = new Set(Object.values(repo.refs).filter(isCommitHash));
      const unreferenced = new Map<string, string>();
      for (const revision of repo.revisions) {
        if (referenced.has(revision.commit)) continue;
        if (isPinned({ pinned: params.pinned, repo: repo.folderName, commit: revision.commit })) {
          notes.push(`${formatRepoRef(repo)} ${revision.commit.slice(0, 12)} has no ref but is pinned, so it stays`);
          continue;
        }
        unreferenced.set(revision.commit, 'no ref points to it');
      }
      if (unreferenced.size === 0 && repo.incomplete.files.length === 0) return;
      const inventory = readRepoInventory({ repoPath: repo.repoPath, folderName: repo.folderName, snapshots: false });
      const partials: FileFacts[] = [];
      for (const partial of inventory.partials) {
        if (now - partial.mtimeMs < minAge) youngPartials += 1;
        else if (await isEtagLockHeld({ cacheDir: scan.cacheDir, repo: repo.folderName, name: partial.name })) heldPartials += 1;
        else partials.push(partial);
      }
      const removal = await planRepoRemoval({
        repo,
        inventory,
        revisions: unreferenced,
        partials,
        wholeRepoReason: Object.keys(repo.refs).length === 0 ? 'no ref points to any revision of the repo' : 'no ref points to any cached revision of the repo',
      });
      items.push(...removal.items);
      revisions.push(...removal.revisions);
      // Partials of a repo that stays are planned here; a repo that goes plans its own.
      if (!removal.wholeRepo) {
        for (const partial of partials) {
          const minutes = Math.round((now - partial.mtimeMs) / 60000);
          items.push(await partialItem({ cacheDir: scan.cacheDir, repo: repo.folderName, partial, reason: `unfinished download, not locked, last written ${minutes} min ago` }));
        }
      }
    }),
  );
  if (heldPartials > 0) notes.push(`${heldPartials} partial download(s) stay: a process holds their lock`);
  if (youngPartials > 0) notes.push(`${youngPartials} partial download(s) stay: written less than ${Math.round(minAge / 60000)} min ago (may still be growing)`);
  // Repos were planned concurrently; sort so the plan reads (and runs) in a stable order.
  items.sort((a, b) => (a.repo ?? '').localeCompare(b.repo ?? ''));
  revisions.sort((a, b) => a.repo.localeCompare(b.repo) || a.commit.localeCompare(b.commit));
  return makePlan({ command: 'prune', cacheDir: scan.cacheDir, items, revisions, notes: notes.sort() });
}
