/**
 * The repo walk's per-revision step: every file of one snapshot folder
 * (recursively), each link resolved against the repo's blobs.
 */
import { lstatSync, readlinkSync, type Stats } from 'node:fs';
import { dirname, isAbsolute, resolve, sep } from 'node:path';
import type { CachedFile, CacheWarning, CacheWarningCode } from './cacheScan.js';
import type { BlobEntry } from './readRepoBlobs.js';
import { readDirOrWarn } from './readDirOrWarn.js';

const IGNORED_NAMES = new Set(['.DS_Store']);

export function scanSnapshotDir(params: {
  dir: string;
  prefix: string;
  repoPath: string;
  blobsDir: string;
  blobs: { complete: Map<string, BlobEntry> };
  copyStats: Map<string, Stats>;
  files: CachedFile[];
  warnings: CacheWarning[];
}): void {
  const entries = readDirOrWarn({ dir: params.dir, warnings: params.warnings });
  entries.forEach((entry) => {
      if (IGNORED_NAMES.has(entry.name)) return;
      const snapshotPath = `${params.dir}/${entry.name}`;
      const relPath = params.prefix ? `${params.prefix}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        scanSnapshotDir({ ...params, dir: snapshotPath, prefix: relPath });
        return;
      }
      if (entry.isSymbolicLink()) {
        params.files.push(describeLink({ snapshotPath, relPath, blobsDir: params.blobsDir, blobs: params.blobs, warnings: params.warnings }));
        return;
      }
      if (entry.isFile()) {
        // The no-symlink layout (Windows, some network filesystems): the snapshot file holds the bytes.
        let stats = params.copyStats.get(snapshotPath);
        if (!stats) {
          stats = lstatSync(snapshotPath, { throwIfNoEntry: false });
          if (!stats) return;
          params.copyStats.set(snapshotPath, stats);
        }
        params.files.push({
          path: relPath,
          snapshotPath,
          blobPath: snapshotPath,
          blobName: undefined,
          layout: 'copy',
          size: stats.size,
          lastAccessed: stats.atimeMs,
          lastModified: stats.mtimeMs,
          problem: undefined,
        });
        return;
      }
      params.warnings.push({ code: 'stray-entry', path: snapshotPath, message: 'not a file, folder or link' });
    });
}

/**
 * Fast path for the link every writer makes (`../../blobs/<etag>`, one more
 * `../` per subfolder): plain string checks instead of path.resolve, which
 * dominated the scan's JavaScript time on 20k links.
 */
function resolveLinkTarget(params: { snapshotPath: string; relPath: string; target: string; blobsDir: string }): string {
  const { target, relPath } = params;
  let depth = 2;
  for (let i = 0; i < relPath.length; i++) if (relPath.charCodeAt(i) === 47) depth += 1;
  const prefix = '../'.repeat(depth) + 'blobs/';
  if (target.startsWith(prefix)) {
    const name = target.slice(prefix.length);
    if (name.length > 0 && !name.includes('/') && name !== '.' && name !== '..') return `${params.blobsDir}/${name}`;
  }
  return resolve(dirname(params.snapshotPath), target);
}

function describeLink(params: {
  snapshotPath: string;
  relPath: string;
  blobsDir: string;
  blobs: { complete: Map<string, BlobEntry> };
  warnings: CacheWarning[];
}): CachedFile {
  const { snapshotPath, relPath, blobsDir } = params;
  const base: CachedFile = {
    path: relPath,
    snapshotPath,
    blobPath: undefined,
    blobName: undefined,
    layout: 'symlink',
    size: 0,
    lastAccessed: 0,
    lastModified: 0,
    problem: undefined,
  };
  let target: string;
  try {
    target = readlinkSync(snapshotPath);
  } catch {
    return { ...base, problem: 'dangling-link' };
  }
  const resolved = resolveLinkTarget({ snapshotPath, relPath, target, blobsDir });
  const inBlobs = dirname(resolved) === blobsDir && !resolved.slice(blobsDir.length + 1).includes(sep);
  if (!inBlobs) {
    params.warnings.push({
      code: 'link-outside-repo',
      path: snapshotPath,
      message: `link points outside this repo's blobs/ (${target})`,
    });
    return { ...base, problem: 'link-outside-repo' };
  }
  const blobName = resolved.slice(blobsDir.length + 1);
  const blob = params.blobs.complete.get(blobName);
  if (!blob) {
    params.warnings.push({ code: 'dangling-link', path: snapshotPath, message: `link target blobs/${blobName} is missing` });
    return { ...base, blobName, problem: 'dangling-link' };
  }
  let problem: CacheWarningCode | undefined;
  if (isAbsolute(target)) {
    // Works here, but breaks as soon as the volume is mounted at another path.
    params.warnings.push({ code: 'absolute-link', path: snapshotPath, message: `absolute link (${target}); other mounts of this cache will not resolve it` });
    problem = undefined;
  }
  return {
    ...base,
    blobPath: resolved,
    blobName,
    size: blob.stats.size,
    lastAccessed: blob.stats.atimeMs,
    lastModified: blob.stats.mtimeMs,
    problem,
  };
}
