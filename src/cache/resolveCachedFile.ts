/**
 * Finds a file in the cache without any network: revision -> commit through
 * refs/ (or the commit itself), then the snapshot link, which must resolve.
 * Read-only: works on a read-only mount.
 */
import { access, readdir, stat } from 'node:fs/promises';
import { constants } from 'node:fs';
import { HubcacheError } from '../errors.js';
import { formatRepoRef, type RepoRef } from './repoId.js';
import { repoPaths } from './repoPaths.js';
import { readRef, readRefsSync } from './readRefs.js';
import { DEFAULT_REVISION, isCommitHash, validateRevision } from './revision.js';
import { quoteInput } from '../quoteInput.js';

export interface ResolvedCachedFile {
  path: string;
  commit: string;
  size: number;
}

export type CachedLookup =
  | { status: 'found'; path: string; commit: string; size: number }
  | { status: 'known-absent'; commit: string }
  | { status: 'missing'; commit: string | undefined };

/** The non-throwing form, for callers that fall back to the network. */
export async function lookupCachedFile(params: RepoRef & { cacheDir: string; revision?: string; path: string }): Promise<CachedLookup> {
  const paths = repoPaths(params);
  const revision = params.revision ?? DEFAULT_REVISION;
  validateRevision({ revision });
  const commit = isCommitHash(revision) ? revision : await readRef({ refPath: paths.ref(revision) });
  if (!commit || !isCommitHash(commit)) return { status: 'missing', commit: undefined };
  const file = paths.snapshotFile(commit, params.path);
  try {
    const stats = await stat(file);
    if (stats.isFile()) return { status: 'found', path: file, commit, size: stats.size };
  } catch {
    // Missing or a dangling link: both mean "not usable", checked below for the .no_exist marker.
  }
  try {
    await access(paths.noExistFile(commit, params.path), constants.F_OK);
    return { status: 'known-absent', commit };
  } catch {
    return { status: 'missing', commit };
  }
}

export async function resolveCachedFile(params: RepoRef & { cacheDir: string; revision?: string; path: string }): Promise<ResolvedCachedFile> {
  const found = await lookupCachedFile(params);
  if (found.status === 'found') return { path: found.path, commit: found.commit, size: found.size };
  const revision = params.revision ?? DEFAULT_REVISION;
  const repo = formatRepoRef(params);
  const cached = await listCachedRevisions({ ...params });
  const withFile = cached.filter((c) => c.hasFile).map((c) => c.label);
  const others = cached.map((c) => c.label);
  let message: string;
  if (found.status === 'known-absent') {
    message = `${params.path} does not exist in ${repo} at ${revision} (${found.commit.slice(0, 12)}), as recorded by an earlier download`;
  } else if (cached.length === 0) {
    message = `${repo} is not in the cache (${params.cacheDir})`;
  } else if (found.commit === undefined) {
    message = `Revision ${quoteInput(revision)} of ${repo} is not in the cache`;
  } else {
    message = `${params.path} is not cached for ${repo} at ${revision} (${found.commit.slice(0, 12)})`;
  }
  const hint =
    withFile.length > 0
      ? `Cached revisions that have ${params.path}: ${withFile.join(', ')}.`
      : others.length > 0
        ? `Cached revisions: ${others.join(', ')}. Use \`hubcache download ${repo} ${params.path}\` to fetch it.`
        : `Use \`hubcache download ${repo} ${params.path}\` to fetch it.`;
  throw new HubcacheError({
    code: 'E_NOT_CACHED',
    message,
    hint,
    data: { repo, revision, path: params.path, cachedRevisions: cached.map((c) => ({ commit: c.commit, refs: c.refs, hasFile: c.hasFile })) },
  });
}

async function listCachedRevisions(
  params: RepoRef & { cacheDir: string; path: string },
): Promise<Array<{ commit: string; refs: string[]; hasFile: boolean; label: string }>> {
  const paths = repoPaths(params);
  let commits: string[];
  try {
    commits = (await readdir(paths.snapshotsDir)).filter(isCommitHash);
  } catch {
    return [];
  }
  const { refs } = readRefsSync({ refsDir: paths.refsDir });
  return Promise.all(
    commits.map(async (commit) => {
      const names = [...refs].filter(([, c]) => c === commit).map(([n]) => n);
      const hasFile = await stat(paths.snapshotFile(commit, params.path)).then(
        (s) => s.isFile(),
        () => false,
      );
      return { commit, refs: names, hasFile, label: names.length > 0 ? `${names.join(', ')} (${commit.slice(0, 12)})` : commit.slice(0, 12) };
    }),
  );
}
