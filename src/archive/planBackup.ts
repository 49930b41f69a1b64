/**
 * What a backup holds, decided from one scan before the first byte is
 * written (the index comes first): the selected repos and revisions, their
 * files that link to a present blob, each blob once, and the refs whose commit
 * is in the backup. Partial downloads are never blobs; dangling links and
 * the copy layout (no blob name to verify against) are left out with a warning.
 */
import { HubcacheError } from '../errors.js';
import type { CachedRepo } from '../cache/cacheScan.js';
import { parseRepoSpec, repoFolderName, formatRepoRef } from '../cache/repoId.js';
import { isCommitHash } from '../cache/revision.js';
import { scanCache } from '../cache/scanCache.js';
import { quoteInput } from '../quoteInput.js';
import { hashOf, type BackupIndexRepo } from './backupIndex.js';

export interface BackupBlob {
  folder: string;
  name: string;
  size: number;
  /** Where it is read from (a linked blob is read through its link). */
  path: string;
}

export interface BackupPlan {
  repos: BackupIndexRepo[];
  /** Unique per repo, in archive order. */
  blobs: BackupBlob[];
  bytes: number;
  warnings: string[];
}

export interface PlanBackupParams {
  cacheDir: string;
  /** `org/name`, `dataset/org/name`, `models--org--name`, each optionally `@<ref or commit>`; empty = every repo, every revision. */
  selection: string[];
}

export async function planBackup(params: PlanBackupParams): Promise<BackupPlan> {
  const wanted = new Map<string, Set<string> | 'all'>();
  const typed = new Map<string, string>();
  for (const spec of params.selection) {
    const at = spec.lastIndexOf('@');
    const repoSpec = at > 0 ? spec.slice(0, at) : spec;
    const revision = at > 0 ? spec.slice(at + 1) : undefined;
    const folder = repoFolderName(parseRepoSpec({ spec: repoSpec }));
    typed.set(folder, repoSpec);
    const previous = wanted.get(folder);
    if (revision === undefined || previous === 'all') wanted.set(folder, 'all');
    else wanted.set(folder, new Set([...(previous ?? []), revision]));
  }
  const scan = await scanCache({ cacheDir: params.cacheDir, detail: 'files', ...(wanted.size > 0 ? { repos: [...wanted.keys()] } : {}) });
  const found = new Set(scan.repos.map((r) => r.folderName));
  const missing = [...wanted.keys()].filter((folder) => !found.has(folder)).map((folder) => quoteInput(typed.get(folder) ?? folder));
  if (missing.length > 0) {
    throw new HubcacheError({ code: 'E_NOT_CACHED', message: `Not in the cache ${scan.cacheDir}: ${missing.join(', ')}`, hint: 'Run `hubcache ls` to see the cached repos.', data: { missing } });
  }
  const plan: BackupPlan = { repos: [], blobs: [], bytes: 0, warnings: [] };
  for (const repo of scan.repos) {
    const commits = selectedCommits({ repo, wanted: wanted.get(repo.folderName) ?? 'all' });
    planRepo({ repo, commits, plan });
  }
  return plan;
}

function selectedCommits(args: { repo: CachedRepo; wanted: Set<string> | 'all' }): Set<string> {
  const { repo, wanted } = args;
  const present = new Set(repo.revisions.map((r) => r.commit));
  if (wanted === 'all') return present;
  const commits = new Set<string>();
  for (const revision of wanted) {
    const commit = isCommitHash(revision) ? revision : repo.refs[revision];
    if (commit === undefined || !present.has(commit)) {
      throw new HubcacheError({
        code: 'E_NOT_CACHED',
        message: `${formatRepoRef(repo)}@${quoteInput(revision).slice(1, -1)} is not in the cache`,
        hint: `Cached revisions: ${[...present].map((c) => c.slice(0, 12)).join(', ') || 'none'}; refs: ${Object.keys(repo.refs).join(', ') || 'none'}.`,
        data: { repo: formatRepoRef(repo), revision },
      });
    }
    commits.add(commit);
  }
  return commits;
}

function planRepo(args: { repo: CachedRepo; commits: Set<string>; plan: BackupPlan }): void {
  const { repo, commits, plan } = args;
  const entry: BackupIndexRepo = { repoType: repo.repoType, repoId: repo.repoId, folder: repo.folderName, refs: {}, revisions: [] };
  const blobs = new Map<string, BackupBlob>();
  for (const revision of repo.revisions) {
    if (!commits.has(revision.commit)) continue;
    const files = [];
    for (const file of revision.files) {
      if (file.layout !== 'symlink' || file.blobName === undefined || file.blobPath === undefined || file.problem !== undefined) {
        plan.warnings.push(`${repo.folderName}/snapshots/${revision.commit}/${file.path}: left out (${file.layout === 'copy' ? 'a copy, not a link to a blob: no name to verify it against' : (file.problem ?? 'no blob')})`);
        continue;
      }
      files.push({ path: file.path, blob: file.blobName, size: file.size, hash: hashOf(file.blobName) });
      if (!blobs.has(file.blobName)) blobs.set(file.blobName, { folder: repo.folderName, name: file.blobName, size: file.size, path: file.blobPath });
    }
    entry.revisions.push({ commit: revision.commit, files });
  }
  for (const [name, commit] of Object.entries(repo.refs)) if (commits.has(commit)) entry.refs[name] = commit;
  entry.revisions.sort((a, b) => (a.commit < b.commit ? -1 : 1));
  plan.repos.push(entry);
  const sorted = [...blobs.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  plan.blobs.push(...sorted);
  for (const blob of sorted) plan.bytes += blob.size;
}
