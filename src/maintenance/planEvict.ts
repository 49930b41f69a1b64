/**
 * `hubcache evict --max-size`: removes least-recently-used revisions until the
 * cache content fits the budget. "Used" is the newest of: a blob's atime, the
 * time its snapshot link was made, and hubcache's own access record (atime
 * alone lies on noatime/relatime mounts). Pinned revisions are never chosen.
 *
 * Size counts every inode once (hard links made by dedupe are one copy), over
 * what the revisions hold; unlinked blobs and partial downloads are gc's and
 * prune's, and are only mentioned.
 */
import { lstat } from 'node:fs/promises';
import { readAccessLog, type AccessLog } from '../cache/accessLog.js';
import { formatRepoRef } from '../cache/repoId.js';
import { scanCache, type CachedRepo, type CachedRevision } from '../cache/scanCache.js';
import { isPinned, makePlan, type DraftItem, type PinnedRevisions, type Plan, type PlanBudget, type PlanRevision } from './plan.js';
import { planRepoRemoval } from './planRepoRemoval.js';
import { fileFacts, readRepoInventory, type RepoInventory } from './repoInventory.js';

export interface PlanEvictParams {
  cacheDir: string;
  /** The budget: content bytes the cache may hold once the plan has run. */
  maxBytes: number;
  pinned?: PinnedRevisions;
  /** Default: read from the cache's `.hubcache/access/`. */
  accessLog?: AccessLog;
}

interface Candidate {
  repo: CachedRepo;
  revision: CachedRevision;
  lastUsed: number;
  /** inode key -> bytes. */
  content: Map<string, number>;
  pinned: boolean;
}

export async function planEvict(params: PlanEvictParams): Promise<Plan> {
  const scan = await scanCache({ cacheDir: params.cacheDir });
  const accessLog = params.accessLog ?? (await readAccessLog({ cacheDir: scan.cacheDir }));
  const inventories = new Map(scan.repos.map((repo) => [repo.folderName, readRepoInventory({ repoPath: repo.repoPath, folderName: repo.folderName, snapshots: false })]));
  const candidates = (
    await Promise.all(
      scan.repos.flatMap((repo) =>
        repo.revisions.map((revision) => describeRevision({ repo, revision, inventory: inventories.get(repo.folderName) as RepoInventory, accessLog, pinned: params.pinned })),
      ),
    )
  ).flat();

  // Which revisions hold each inode: its bytes are freed when the last of them goes.
  const holders = new Map<string, Set<Candidate>>();
  const sizes = new Map<string, number>();
  for (const c of candidates) {
    for (const [key, size] of c.content) {
      sizes.set(key, size);
      const set = holders.get(key) ?? new Set<Candidate>();
      set.add(c);
      holders.set(key, set);
    }
  }
  const bytesBefore = sum(sizes.values());
  const pinnedKeys = new Set(candidates.filter((c) => c.pinned).flatMap((c) => [...c.content.keys()]));
  const pinnedBytes = sum([...pinnedKeys].map((k) => sizes.get(k) ?? 0));

  const freedBy = (chosen: Set<Candidate>): number => {
    let freed = 0;
    for (const [key, set] of holders) if ([...set].every((c) => chosen.has(c))) freed += sizes.get(key) ?? 0;
    return freed;
  };
  const order = candidates
    .filter((c) => !c.pinned)
    .sort((a, b) => a.lastUsed - b.lastUsed || a.repo.folderName.localeCompare(b.repo.folderName) || a.revision.commit.localeCompare(b.revision.commit));
  const chosen = new Set<Candidate>();
  let bytesAfter = bytesBefore;
  for (const c of order) {
    if (bytesAfter <= params.maxBytes) break;
    chosen.add(c);
    for (const key of c.content.keys()) {
      const set = holders.get(key) as Set<Candidate>;
      if ([...set].every((h) => chosen.has(h))) bytesAfter -= sizes.get(key) ?? 0;
    }
  }
  // A chosen revision whose blobs all stay (shared with kept revisions) frees nothing by
  // going; drop such free riders, most recently used first, so only what the budget needs goes.
  const freed = bytesBefore - bytesAfter;
  for (const c of [...chosen].reverse()) {
    chosen.delete(c);
    if (freedBy(chosen) < freed) chosen.add(c);
  }

  const byRepo = new Map<CachedRepo, Map<string, string>>();
  const lastUsedOf = new Map<string, number>();
  for (const c of chosen) {
    const map = byRepo.get(c.repo) ?? new Map<string, string>();
    map.set(c.revision.commit, `least recently used (last used ${c.lastUsed > 0 ? new Date(c.lastUsed).toISOString() : 'never'})`);
    byRepo.set(c.repo, map);
    lastUsedOf.set(`${c.repo.folderName}/${c.revision.commit}`, c.lastUsed);
  }
  const items: DraftItem[] = [];
  const revisions: Array<Omit<PlanRevision, 'bytes'>> = [];
  for (const [repo, map] of [...byRepo].sort(([a], [b]) => a.folderName.localeCompare(b.folderName))) {
    const removal = await planRepoRemoval({ repo, inventory: inventories.get(repo.folderName) as RepoInventory, revisions: map, wholeRepoReason: 'every revision of the repo is evicted' });
    items.push(...removal.items);
    revisions.push(...removal.revisions.map((r) => ({ ...r, lastUsed: lastUsedOf.get(`${r.repo}/${r.commit}`) ?? 0 })));
  }
  revisions.sort((a, b) => (a.lastUsed ?? 0) - (b.lastUsed ?? 0));

  const met = bytesAfter <= params.maxBytes;
  const budget: PlanBudget = { maxBytes: params.maxBytes, bytesBefore, bytesAfter, met, pinnedBytes };
  const notes: string[] = [];
  if (!met) {
    notes.push(
      `The budget cannot be met: after evicting every unpinned revision the cache still holds ${bytesAfter} bytes; pinned revisions hold ${pinnedBytes} bytes` +
        (pinnedBytes > params.maxBytes ? ', more than the budget by themselves' : ''),
    );
  }
  const pinnedNames = candidates.filter((c) => c.pinned).map((c) => `${formatRepoRef(c.repo)}@${c.revision.commit.slice(0, 12)}`);
  if (pinnedNames.length > 0) notes.push(`pinned, never evicted: ${pinnedNames.join(', ')}`);
  const leftovers = scan.repos.reduce((s, r) => s + r.orphanBlobs.bytes + r.incomplete.bytes, 0);
  if (leftovers > 0) notes.push(`${leftovers} bytes of unlinked blobs and partial downloads are not counted; \`hubcache gc\` and \`hubcache prune\` free them`);
  return makePlan({ command: 'evict', cacheDir: scan.cacheDir, items, revisions, notes, budget });
}

async function describeRevision(params: {
  repo: CachedRepo;
  revision: CachedRevision;
  inventory: RepoInventory;
  accessLog: AccessLog;
  pinned: PinnedRevisions | undefined;
}): Promise<Candidate> {
  const { repo, revision, inventory } = params;
  let lastUsed = params.accessLog.get(repo.folderName)?.get(revision.commit) ?? 0;
  const content = new Map<string, number>();
  await Promise.all(
    revision.files.map(async (file) => {
      lastUsed = Math.max(lastUsed, file.lastAccessed);
      if (file.layout === 'symlink') {
        // The link's own mtime is when a download (or `hubcache path`'s writer) last made it.
        const link = await lstat(file.snapshotPath).catch(() => undefined);
        if (link) lastUsed = Math.max(lastUsed, link.mtimeMs);
        const blobPath = file.blobName !== undefined && !file.problem ? inventory.blobs.get(file.blobName) : undefined;
        const blob = blobPath !== undefined ? fileFacts({ path: blobPath, name: file.blobName as string }) : undefined;
        if (blob) content.set(blob.inodeKey, blob.size);
        return;
      }
      const stats = await lstat(file.snapshotPath, { bigint: true }).catch(() => undefined);
      if (stats?.isFile()) content.set(`${stats.dev}:${stats.ino}`, Number(stats.size));
    }),
  );
  return { repo, revision, lastUsed, content, pinned: isPinned({ pinned: params.pinned, repo: repo.folderName, commit: revision.commit }) };
}

function sum(values: Iterable<number>): number {
  let total = 0;
  for (const v of values) total += v;
  return total;
}
