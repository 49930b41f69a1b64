/**
 * What `verify --fix` would change, as a plan like rm/prune/gc build, so it is
 * printed, confirmed (or `--dry-run`) and run by the same executePlan:
 * - links to damaged blobs, dangling links and links out of the repo: `link`;
 * - damaged blobs: `blob` (a blob that is a link loses the link, never its target);
 * - refs to missing snapshots and refs that hold no commit: `ref`;
 * - absolute links inside the repo: `relink` to the same blob, relative;
 * - files and links in snapshots/ that are no revision: `file` / `link`.
 * Never planned, only noted: folders the layout does not define (they may
 * be someone's work), anything behind a linked layout folder, blobs/ entries
 * that are neither files nor links.
 */
import { lstat, readlink } from 'node:fs/promises';
import { dirname, relative, resolve, sep } from 'node:path';
import type { CachedRepo } from '../cache/scanCache.js';
import { makePlan, type DraftItem, type Plan } from './plan.js';

export interface PlanVerifyFixParams {
  cacheDir: string;
  repos: CachedRepo[];
  /** Blob paths whose content does not match their name. */
  damagedBlobs: ReadonlySet<string>;
}

export async function planVerifyFix(params: PlanVerifyFixParams): Promise<Plan> {
  const items: DraftItem[] = [];
  const notes: string[] = [];
  for (const repo of params.repos) {
    const linkedFolders = repo.warnings.filter((w) => w.code === 'linked-folder').map((w) => w.path);
    const behindLink = (path: string): boolean => linkedFolders.some((dir) => path.startsWith(dir + sep));
    const base = { repo: repo.folderName, bytes: 0 };
    const repoItems: DraftItem[] = [];
    for (const revision of repo.revisions) {
      for (const file of revision.files) {
        if (file.layout !== 'symlink') continue;
        const damaged = file.blobPath !== undefined && params.damagedBlobs.has(file.blobPath);
        if (!damaged && file.problem !== 'dangling-link' && file.problem !== 'link-outside-repo') continue;
        const reason = damaged ? 'its blob is damaged' : file.problem === 'dangling-link' ? 'its blob is missing' : 'it points outside the repo';
        repoItems.push({ ...base, kind: 'link', path: file.snapshotPath, reason, revision: revision.commit });
      }
    }
    for (const blob of params.damagedBlobs) {
      if (!blob.startsWith(repo.repoPath + sep)) continue;
      const stats = await lstat(blob).catch(() => undefined);
      if (!stats) continue;
      const inode = stats.isFile() ? { inode: { key: `${stats.dev}:${stats.ino}`, size: stats.size, nlink: stats.nlink } } : {};
      repoItems.push({ ...base, kind: 'blob', path: blob, bytes: stats.isFile() ? stats.size : 0, reason: stats.isSymbolicLink() ? 'content does not match its name (only the link is removed, not the file it points to)' : 'content does not match its name', ...inode });
    }
    for (const warning of repo.warnings) {
      if (warning.code === 'absolute-link') {
        const target = await readlink(warning.path).catch(() => undefined);
        if (target !== undefined) repoItems.push({ ...base, kind: 'relink', path: warning.path, linkText: relative(dirname(warning.path), resolve(target)), reason: 'absolute link: other mounts of this cache cannot resolve it' });
      } else if (warning.code === 'ref-missing-snapshot' || warning.code === 'bad-ref') {
        const name = relative(`${repo.repoPath}/refs`, warning.path);
        const commit = repo.refs[name];
        repoItems.push({ ...base, kind: 'ref', path: warning.path, reason: warning.message, ...(warning.code === 'ref-missing-snapshot' && commit ? { revision: commit } : {}) });
      } else if (warning.code === 'stray-entry') {
        const stats = await lstat(warning.path).catch(() => undefined);
        if (!stats) continue;
        if (stats.isSymbolicLink() || stats.isFile()) {
          repoItems.push({ ...base, kind: stats.isFile() ? 'file' : 'link', path: warning.path, reason: warning.message });
        } else {
          // A folder (or a device, a socket) where the layout defines none: possibly someone's work.
          notes.push(`left alone: ${warning.path} (${warning.message}); move it out of the cache by hand`);
        }
      } else if (warning.code === 'linked-folder') {
        notes.push(`left alone: ${warning.path} is a link; nothing behind it is changed`);
      }
    }
    for (const item of repoItems) {
      if (behindLink(item.path)) notes.push(`left alone: ${item.path} (${item.reason}) is behind a linked folder`);
      else items.push(item);
    }
  }
  return makePlan({ command: 'verify', cacheDir: params.cacheDir, items, notes });
}
