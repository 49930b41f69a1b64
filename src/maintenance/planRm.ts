/**
 * `hubcache rm`: plans the removal of named repos, revisions and files.
 * Every target must exist in the cache, or nothing is planned at all: a typo
 * in one of five targets should not silently remove the other four.
 */
import { HubcacheError } from '../errors.js';
import { formatRepoRef, repoFolderName } from '../cache/repoId.js';
import { isCommitHash } from '../cache/revision.js';
import { scanCache, type CachedRepo, type CacheScan } from '../cache/scanCache.js';
import { isEtagLockHeld } from './etagLock.js';
import { isPinned, makePlan, type DraftItem, type PinnedRevisions, type Plan, type PlanRevision } from './plan.js';
import { planRepoRemoval } from './planRepoRemoval.js';
import { readRepoInventory, type FileFacts } from './repoInventory.js';
import type { RmTarget } from './rmTarget.js';
import { quoteInput } from '../quoteInput.js';

export interface PlanRmParams {
  cacheDir: string;
  targets: RmTarget[];
  /** Revisions rm must keep even when named (the manifest's pins); they are reported in the notes. */
  pinned?: PinnedRevisions;
}

interface RepoRequest {
  repo: CachedRepo;
  whole: string | undefined;
  revisions: Map<string, string>;
  files: Map<string, Map<string, string>>;
  refs: Map<string, string>;
}

export async function planRm(params: PlanRmParams): Promise<Plan> {
  const scan = await scanCache({ cacheDir: params.cacheDir });
  if (!scan.exists) {
    throw new HubcacheError({ code: 'E_NOT_CACHED', message: `The cache folder ${scan.cacheDir} does not exist`, hint: 'Check --cache-dir, HF_HUB_CACHE and HF_HOME.' });
  }
  const requests = new Map<string, RepoRequest>();
  const request = (repo: CachedRepo): RepoRequest => {
    let r = requests.get(repo.folderName);
    if (!r) {
      r = { repo, whole: undefined, revisions: new Map(), files: new Map(), refs: new Map() };
      requests.set(repo.folderName, r);
    }
    return r;
  };
  for (const target of params.targets) {
    const why = `rm ${target.text}`;
    if (target.kind === 'commit') {
      const holders = scan.repos.filter((repo) => repo.revisions.some((rev) => rev.commit === target.commit));
      if (holders.length === 0) notCached({ message: `No cached repo has revision ${target.commit}`, hint: 'List cached revisions with `hubcache ls --revisions`.', target });
      for (const repo of holders) request(repo).revisions.set(target.commit, why);
      continue;
    }
    const repo = findRepo({ scan, target });
    if (target.kind === 'repo') {
      const r = request(repo);
      r.whole = why;
      for (const revision of repo.revisions) r.revisions.set(revision.commit, why);
      continue;
    }
    const commit = isCommitHash(target.revision) ? target.revision : repo.refs[target.revision];
    if (commit === undefined) {
      notCached({ message: `${formatRepoRef(repo)} has no ref ${quoteInput(target.revision)} in the cache`, hint: revisionsHint(repo), target });
    }
    const revision = repo.revisions.find((rev) => rev.commit === commit);
    if (target.kind === 'revision') {
      if (!isCommitHash(target.revision)) request(repo).refs.set(target.revision, why);
      // A ref to a commit with no snapshot (only "file absent" markers) is removed alone.
      if (revision) request(repo).revisions.set(revision.commit, isCommitHash(target.revision) ? why : `${why} (ref ${target.revision} points to it)`);
      else if (isCommitHash(target.revision)) notCached({ message: `Revision ${commit} of ${formatRepoRef(repo)} is not in the cache`, hint: revisionsHint(repo), target });
      continue;
    }
    const file = revision?.files.find((f) => f.path === target.path);
    if (!revision || !file) {
      notCached({ message: `${target.path} is not cached for ${formatRepoRef(repo)} at ${target.revision}`, hint: revisionsHint(repo), target });
    }
    const files = request(repo).files.get(revision.commit) ?? new Map<string, string>();
    files.set(target.path, why);
    request(repo).files.set(revision.commit, files);
  }

  const items: DraftItem[] = [];
  const revisions: Array<Omit<PlanRevision, 'bytes'>> = [];
  const notes: string[] = [];
  for (const r of requests.values()) {
    for (const commit of [...r.revisions.keys(), ...r.files.keys()]) {
      if (!isPinned({ pinned: params.pinned, repo: r.repo.folderName, commit })) continue;
      r.revisions.delete(commit);
      r.files.delete(commit);
      r.whole = undefined;
      notes.push(`${formatRepoRef(r.repo)} ${commit.slice(0, 12)} is pinned and stays`);
    }
    const inventory = readRepoInventory({ repoPath: r.repo.repoPath, folderName: r.repo.folderName, snapshots: false });
    const partials: FileFacts[] = [];
    for (const partial of inventory.partials) {
      // An explicit rm of a repo may drop its unfinished downloads, but never one a process is writing.
      if (await isEtagLockHeld({ cacheDir: scan.cacheDir, repo: r.repo.folderName, name: partial.name })) notes.push(`${partial.path} is being downloaded (lock held) and stays`);
      else partials.push(partial);
    }
    const removal = await planRepoRemoval({
      repo: r.repo,
      inventory,
      revisions: r.revisions,
      files: r.files,
      refs: r.refs,
      partials,
      ...(r.whole !== undefined ? { wholeRepo: true, wholeRepoReason: r.whole } : {}),
    });
    items.push(...removal.items);
    revisions.push(...removal.revisions);
  }
  return makePlan({ command: 'rm', cacheDir: scan.cacheDir, items, revisions, notes });
}

function findRepo(params: { scan: CacheScan; target: Exclude<RmTarget, { kind: 'commit' }> }): CachedRepo {
  const folder = repoFolderName(params.target.repo);
  const repo = params.scan.repos.find((r) => r.folderName === folder);
  if (!repo) {
    const similar = params.scan.repos.filter((r) => r.repoId.toLowerCase() === params.target.repo.repoId.toLowerCase()).map((r) => formatRepoRef(r));
    notCached({
      message: `${formatRepoRef(params.target.repo)} is not in the cache (${params.scan.cacheDir})`,
      hint: similar.length > 0 ? `Did you mean ${similar.join(' or ')}? Datasets are named dataset/org/name.` : 'List cached repos with `hubcache ls`.',
      target: params.target,
    });
  }
  return repo;
}

function revisionsHint(repo: CachedRepo): string {
  const labels = repo.revisions.map((r) => (r.refs.length > 0 ? `${r.commit.slice(0, 12)} (${r.refs.join(', ')})` : r.commit.slice(0, 12)));
  return labels.length > 0 ? `Cached revisions of ${formatRepoRef(repo)}: ${labels.join(', ')}.` : `${formatRepoRef(repo)} has no cached revision.`;
}

function notCached(params: { message: string; hint: string; target: RmTarget }): never {
  throw new HubcacheError({
    code: 'E_NOT_CACHED',
    message: `${params.message}; nothing was removed`,
    hint: params.hint,
    data: { target: params.target.text },
  });
}
