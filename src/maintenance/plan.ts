/**
 * The plan every destructive command builds before it touches anything: what
 * goes, how many bytes that frees, and why. The CLI prints it, asks, and only
 * then hands it to `executePlan`; `--dry-run` and `--json` show the very same
 * object, so what users confirm is exactly what runs.
 */

/**
 * What an item is decides when it is removed (see `PLAN_PHASES`): refs first,
 * then what lives in snapshots/, then the bytes, then the folders left empty.
 */
export type PlanItemKind =
  /** `refs/<name>`: a branch, tag or PR ref. */
  | 'ref'
  /** A symlink in `snapshots/<commit>/` (or a hand-made link in `snapshots/`). */
  | 'link'
  /** A regular file in `snapshots/<commit>/` (the no-symlink layout holds the bytes there). */
  | 'file'
  /** `.no_exist/<commit>`: markers of files known absent at that commit. */
  | 'noExist'
  /** `trees/<commit>.json`: newer huggingface_hub's cached file listing. */
  | 'tree'
  /** `blobs/<etag>`: the bytes, removed only once no kept snapshot links to them. */
  | 'blob'
  /** `blobs/*.incomplete`, `*.downloadInProgress`: an unfinished download. */
  | 'partial'
  /** A temp file left by an interrupted atomic write. */
  | 'temp'
  /**
   * verify --fix: an absolute snapshot link replaced by a relative one to the
   * same blob (`linkText`); nothing is freed. Counted as removed: the old link is gone.
   */
  | 'relink'
  /** A folder, removed only if it is empty once the items above are gone. */
  | 'folder';

export interface PlanItem {
  kind: PlanItemKind;
  /** Absolute path inside the cache root. */
  path: string;
  /** Bytes this removal frees (st_size of regular files; a hard-linked file counts only with its last link). */
  bytes: number;
  /** Why it goes, in words a user can check. */
  reason: string;
  /** Repo folder name (`models--org--name`); undefined for items outside repos. */
  repo: string | undefined;
  /** The commit this item belongs to; for refs, the commit the ref pointed to when planned. */
  revision?: string;
  /** `relink` items: the relative text the link gets. */
  linkText?: string;
}

/** A revision the plan removes, for the human summary and `--json`. */
export interface PlanRevision {
  repo: string;
  commit: string;
  refs: string[];
  /** Bytes freed by removing it (blobs shared with other removed revisions count once, on the first). */
  bytes: number;
  reason: string;
  /** Last use (ms since epoch) when the plan ranked revisions by it (evict). */
  lastUsed?: number;
}

export type PlanCommand = 'rm' | 'prune' | 'gc' | 'evict' | 'verify';

export interface PlanTotals {
  items: number;
  bytes: number;
  byKind: Partial<Record<PlanItemKind, { count: number; bytes: number }>>;
}

/** Evict's size budget, before and after the plan runs. */
export interface PlanBudget {
  maxBytes: number;
  bytesBefore: number;
  bytesAfter: number;
  met: boolean;
  /** Bytes held by pinned revisions, which evict never touches. */
  pinnedBytes: number;
}

export interface Plan {
  command: PlanCommand;
  cacheDir: string;
  createdAt: string;
  items: PlanItem[];
  revisions: PlanRevision[];
  totals: PlanTotals;
  /** Things the user should know: what was left alone and why. */
  notes: string[];
  budget?: PlanBudget;
}

/**
 * Revisions nothing may remove: `<repo-folder>/<commit>` pins one revision,
 * a bare `<repo-folder>` pins every revision of that repo. `--keep` fills it
 * today; the manifest will too.
 */
export type PinnedRevisions = ReadonlySet<string>;

export function pinKey(params: { repo: string; commit?: string }): string {
  return params.commit === undefined ? params.repo : `${params.repo}/${params.commit}`;
}

export function isPinned(params: { pinned: PinnedRevisions | undefined; repo: string; commit: string }): boolean {
  const { pinned } = params;
  return pinned !== undefined && (pinned.has(params.repo) || pinned.has(`${params.repo}/${params.commit}`));
}

/**
 * Execution order. Removing refs before links and links before blobs means a
 * run stopped at any point leaves, at worst, unreferenced revisions (prune
 * material) or unlinked blobs (gc material), never a link to a missing blob.
 */
export const PLAN_PHASES: ReadonlyArray<ReadonlyArray<PlanItemKind>> = [
  ['ref'],
  ['link', 'file', 'noExist', 'tree', 'relink'],
  ['blob', 'partial', 'temp'],
  ['folder'],
];

const PHASE_OF = Object.fromEntries(PLAN_PHASES.flatMap((kinds, phase) => kinds.map((kind) => [kind, phase]))) as Record<PlanItemKind, number>;

export function planPhase(kind: PlanItemKind): number {
  return PHASE_OF[kind];
}

export function planTotals(params: { items: PlanItem[] }): PlanTotals {
  const byKind: PlanTotals['byKind'] = {};
  let bytes = 0;
  for (const item of params.items) {
    const entry = byKind[item.kind] ?? { count: 0, bytes: 0 };
    entry.count += 1;
    entry.bytes += item.bytes;
    byKind[item.kind] = entry;
    bytes += item.bytes;
  }
  return { items: params.items.length, bytes, byKind };
}

/**
 * A plan item as planners build it: regular files carry their inode so the
 * bytes can be settled across the whole plan (a blob hard-linked into two
 * repos by dedupe frees its bytes only when both links go).
 */
export interface DraftItem extends PlanItem {
  inode?: { key: string; size: number; nlink: number };
}

/**
 * Puts the items in execution order, settles hard-linked bytes, and fills in
 * the totals and the bytes of each revision.
 */
export function makePlan(params: {
  command: PlanCommand;
  cacheDir: string;
  items: DraftItem[];
  revisions?: Array<Omit<PlanRevision, 'bytes'>>;
  notes?: string[];
  budget?: PlanBudget;
}): Plan {
  const seen = new Set<string>();
  const unique = params.items.filter((item) => {
    // Two planners (or two rm targets) may name the same path; removing it twice would count it twice.
    if (seen.has(item.path)) return false;
    seen.add(item.path);
    return true;
  });
  // A stable sort keeps each phase in the order the planner chose (nested folders before their parents).
  const sorted = unique.sort((a, b) => planPhase(a.kind) - planPhase(b.kind));
  const items = settleHardLinks({ items: sorted });
  const revisionBytes = new Map<string, number>();
  for (const item of items) {
    if (item.repo === undefined || item.revision === undefined) continue;
    const key = `${item.repo}/${item.revision}`;
    revisionBytes.set(key, (revisionBytes.get(key) ?? 0) + item.bytes);
  }
  return {
    command: params.command,
    cacheDir: params.cacheDir,
    createdAt: new Date().toISOString(),
    items,
    revisions: (params.revisions ?? []).map((r) => ({ ...r, bytes: revisionBytes.get(`${r.repo}/${r.commit}`) ?? 0 })),
    totals: planTotals({ items }),
    notes: params.notes ?? [],
    ...(params.budget ? { budget: params.budget } : {}),
  };
}

/**
 * An inode's bytes are freed by the removal of its last link, so they are
 * put on the last item (in execution order) naming it, and only when the
 * plan removes every link the inode has.
 */
function settleHardLinks(params: { items: DraftItem[] }): PlanItem[] {
  const planned = new Map<string, number>();
  for (const item of params.items) if (item.inode) planned.set(item.inode.key, (planned.get(item.inode.key) ?? 0) + 1);
  const remaining = new Map(planned);
  return params.items.map(({ inode, ...item }) => {
    if (!inode) return item;
    const left = (remaining.get(inode.key) ?? 1) - 1;
    remaining.set(inode.key, left);
    const allLinksGo = (planned.get(inode.key) ?? 0) >= inode.nlink;
    if (!allLinksGo) return { ...item, bytes: 0, reason: `${item.reason} (hard-linked elsewhere too: frees no space)` };
    return { ...item, bytes: left === 0 ? inode.size : 0 };
  });
}
