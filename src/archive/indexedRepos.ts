/**
 * A hubcache backup's index as a restore uses it: per repo, which file of which
 * commit is which blob, each blob's size, the refs; and every file of the
 * selected repos queued for linking once its blob is in.
 */
import type { RepoRef } from '../cache/repoId.js';
import type { BackupIndex } from './backupIndex.js';

export interface PendingLink {
  repo: RepoRef;
  commit: string;
  path: string;
}

export interface IndexedRepo {
  /** `<commit>/<path>` -> blob. */
  files: Map<string, string>;
  /** blob -> size. */
  blobs: Map<string, number>;
  refs: Record<string, string>;
}

export function indexRepos(args: {
  index: BackupIndex;
  selected: Set<string> | undefined;
  pendingLinks: Map<string, PendingLink[]>;
  keyOf: (folder: string, etag: string) => string;
}): Map<string, IndexedRepo> {
  const repos = new Map<string, IndexedRepo>();
  for (const repo of args.index.repos) {
    const entry: IndexedRepo = { files: new Map(), blobs: new Map(), refs: repo.refs };
    repos.set(repo.folder, entry);
    for (const revision of repo.revisions) {
      for (const file of revision.files) {
        entry.files.set(`${revision.commit}/${file.path}`, file.blob);
        entry.blobs.set(file.blob, file.size);
        if (args.selected && !args.selected.has(repo.folder)) continue;
        const key = args.keyOf(repo.folder, file.blob);
        args.pendingLinks.set(key, [...(args.pendingLinks.get(key) ?? []), { repo: { repoType: repo.repoType, repoId: repo.repoId }, commit: revision.commit, path: file.path }]);
      }
    }
  }
  return repos;
}

