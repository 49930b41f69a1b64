/**
 * One page of the repos table, from the cached scan: sorted and filtered on the server so the
 * browser only ever holds one page (a cache of 2,000 repos and 100k files sends 50 rows).
 */
import type { CachedRepo, CacheScan } from '../../cache/scanCache.js';
import { formatRepoRef } from '../../cache/repoId.js';

export type RepoSort = 'size' | 'name' | 'accessed' | 'files' | 'problems';

export const REPO_SORTS: readonly RepoSort[] = ['size', 'name', 'accessed', 'files', 'problems'];

export interface RepoRow {
  /** `org/name`, `datasets/org/name`... as users type it. */
  id: string;
  repoType: string;
  folderName: string;
  sizeOnDisk: number;
  nbFiles: number;
  refs: Record<string, string>;
  revisions: Array<{ commit: string; refs: string[]; nbFiles: number; sizeOnDisk: number }>;
  lastAccessed: number;
  lastModified: number;
  incomplete: { count: number; bytes: number };
  orphanBlobs: { count: number; bytes: number };
  problemCount: number;
  /** The first few problems, in words. */
  problems: Array<{ code: string; path: string; message: string }>;
  /** Services of the manifest that use this repo. */
  services: string[];
}

export interface RepoPage {
  total: number;
  /** Rows matching the filter (before paging). */
  matching: number;
  offset: number;
  limit: number;
  rows: RepoRow[];
}

export interface RepoPageParams {
  scan: CacheScan | undefined;
  offset: number;
  limit: number;
  sort: RepoSort;
  /** Substring of the repo id, case-insensitive. */
  filter?: string | undefined;
  /** Repo folder name -> service names. */
  services: ReadonlyMap<string, string[]>;
}

const MAX_PROBLEMS_SHOWN = 5;

export function repoPage(params: RepoPageParams): RepoPage {
  const repos = params.scan?.repos ?? [];
  const filter = params.filter?.trim().toLowerCase();
  const matching = filter ? repos.filter((r) => formatRepoRef(r).toLowerCase().includes(filter)) : [...repos];
  matching.sort(comparator(params.sort));
  const rows = matching.slice(params.offset, params.offset + params.limit).map((repo) => repoRow({ repo, services: params.services.get(repo.folderName) ?? [] }));
  return { total: repos.length, matching: matching.length, offset: params.offset, limit: params.limit, rows };
}

function comparator(sort: RepoSort): (a: CachedRepo, b: CachedRepo) => number {
  const byName = (a: CachedRepo, b: CachedRepo): number => (a.folderName < b.folderName ? -1 : a.folderName > b.folderName ? 1 : 0);
  switch (sort) {
    case 'name':
      return byName;
    case 'accessed':
      return (a, b) => b.lastAccessed - a.lastAccessed || byName(a, b);
    case 'files':
      return (a, b) => b.nbFiles - a.nbFiles || byName(a, b);
    case 'problems':
      return (a, b) => problemCount(b) - problemCount(a) || b.sizeOnDisk - a.sizeOnDisk || byName(a, b);
    default:
      return (a, b) => b.sizeOnDisk - a.sizeOnDisk || byName(a, b);
  }
}

function problemCount(repo: CachedRepo): number {
  return repo.warnings.length + (repo.incomplete.files.length > 0 ? 1 : 0);
}

function repoRow(params: { repo: CachedRepo; services: string[] }): RepoRow {
  const { repo } = params;
  return {
    id: formatRepoRef(repo),
    repoType: repo.repoType,
    folderName: repo.folderName,
    sizeOnDisk: repo.sizeOnDisk,
    nbFiles: repo.nbFiles,
    refs: repo.refs,
    revisions: repo.revisions.map((r) => ({ commit: r.commit, refs: r.refs, nbFiles: r.nbFiles, sizeOnDisk: r.sizeOnDisk })),
    lastAccessed: repo.lastAccessed,
    lastModified: repo.lastModified,
    incomplete: { count: repo.incomplete.files.length, bytes: repo.incomplete.bytes },
    orphanBlobs: repo.orphanBlobs,
    problemCount: repo.warnings.length,
    problems: repo.warnings.slice(0, MAX_PROBLEMS_SHOWN).map((w) => ({ code: w.code, path: w.path, message: w.message })),
    services: params.services,
  };
}
