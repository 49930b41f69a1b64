/**
 * Group, mode and setgid of every file and folder in the cache, links never
 * followed. A file with more hard links than the walk found names for inside
 * the cache also has names outside it: one inode, so a chmod or chgrp here
 * would change someone's file elsewhere. Such files are reported, not fixed.
 * Hard links between blobs that `hubcache dedupe` made have all their names
 * inside the cache and are fixed like any file.
 */
import type { Dirent, Stats } from 'node:fs';
import { lstat, readdir, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { LOCKS_DIR_NAME } from '../../cache/repoPaths.js';
import type { SharedGroup } from '../resolveGroup.js';
import { checkAbsoluteLink } from './checkAbsoluteLink.js';
import { octal, quote, type DoctorCheck } from './doctorCheck.js';
import { withNoFollow, type NoFollowTarget } from './withNoFollow.js';

const GROUP_RW = 0o060;
const GROUP_RWX = 0o070;
const OTHER_RW = 0o006;
const OTHER_RWX = 0o007;
/** Not in Node's fs.constants typings; the POSIX value. */
const S_ISGID = 0o2000;

interface Entry {
  path: string;
  stats: Stats;
  openPath?: string;
}

export async function checkPermissions(params: { cacheDir: string; rootReal: string; group: SharedGroup; checks: DoctorCheck[] }): Promise<void> {
  const entries: Entry[] = [];
  await walk({ ...params, dir: params.cacheDir, isRoot: true, entries });
  // Names of each multiply-linked inode inside the cache; only known once the whole walk is done.
  const namesInCache = new Map<string, number>();
  for (const { stats } of entries) if (stats.isFile() && stats.nlink > 1) namesInCache.set(inodeKey(stats), (namesInCache.get(inodeKey(stats)) ?? 0) + 1);
  for (const entry of entries) {
    const names = entry.stats.isFile() && entry.stats.nlink > 1 ? (namesInCache.get(inodeKey(entry.stats)) ?? 1) : undefined;
    if (names !== undefined && entry.stats.nlink > names) {
      params.checks.push({
        finding: {
          code: 'hard-linked-outside',
          path: entry.path,
          why: `${entry.stats.nlink} hard links but only ${names} in the cache: its other names are files outside the cache, and changing its mode or group here would change them too, so doctor leaves it alone`,
          fix: `find / -xdev -samefile ${quote(entry.path)}   # who else uses it; to give the cache its own copy: cp -p ${quote(entry.path)} ${quote(`${entry.path}.copy`)} && mv ${quote(`${entry.path}.copy`)} ${quote(entry.path)}`,
          fixable: false,
        },
      });
      continue;
    }
    checkOwnership({ ...params, ...entry, namesInCache: names });
  }
}

function inodeKey(stats: Stats): string {
  return `${stats.dev}:${stats.ino}`;
}

/** Collects every folder and regular file; links are checked for their shape only, never followed. */
async function walk(params: { cacheDir: string; rootReal: string; dir: string; isRoot: boolean; entries: Entry[]; checks: DoctorCheck[] }): Promise<void> {
  const { dir, checks } = params;
  // The root may itself be a link (a mounted volume's path); its target is the cache.
  const dirStats = params.isRoot ? await stat(dir) : await lstat(dir);
  params.entries.push({ path: dir, stats: dirStats, ...(params.isRoot ? { openPath: params.rootReal } : {}) });
  let dirents: Dirent[];
  try {
    dirents = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    checks.push({
      finding: { code: 'unreadable', path: dir, why: `hubcache cannot list it (${(err as NodeJS.ErrnoException).code ?? 'error'}), so neither can other tools running as this user`, fix: `sudo chmod g+rx ${quote(dir)}`, fixable: false },
    });
    return;
  }
  for (const dirent of dirents) {
    const path = join(dir, dirent.name);
    if (dirent.isDirectory()) {
      await walk({ ...params, dir: path, isRoot: false });
      continue;
    }
    const stats = await lstat(path).catch(() => undefined);
    if (!stats) continue;
    if (stats.isSymbolicLink()) await checkAbsoluteLink({ cacheDir: params.cacheDir, rootReal: params.rootReal, path, checks });
    else if (stats.isFile()) params.entries.push({ path, stats });
  }
}

function checkOwnership(params: { cacheDir: string; path: string; openPath?: string; stats: Stats; namesInCache: number | undefined; group: SharedGroup; checks: DoctorCheck[] }): void {
  const { path, stats, group, checks, cacheDir } = params;
  const groupLabel = group.name ?? String(group.gid);
  const target: NoFollowTarget = {
    cacheDir,
    path,
    ino: stats.ino,
    isDir: stats.isDirectory(),
    ...(params.openPath ? { openPath: params.openPath } : {}),
    namesInCache: params.namesInCache ?? 1,
  };
  /** A fix that sets the mode from the one the file has when the fix runs (not the one seen by the check). */
  const chmodFrom = (next: (before: number) => number) => () =>
    withNoFollow({
      ...target,
      act: async (h) => {
        const before = (await h.stat()).mode & 0o7777;
        const after = next(before);
        await h.chmod(after);
        return `mode ${octal(before)} -> ${octal(after)}`;
      },
    });
  const isDir = stats.isDirectory();
  const isLock = !isDir && path.endsWith('.lock') && relative(cacheDir, path).split(sep)[0] === LOCKS_DIR_NAME;
  const kind = isDir ? 'folder' : isLock ? 'lock file' : 'file';
  if (stats.gid !== group.gid) {
    checks.push({
      finding: {
        code: 'wrong-group',
        path,
        why: `this ${kind} belongs to group ${stats.gid}, not the shared group ${groupLabel}, so group permissions do not reach the other users`,
        fix: `chgrp ${groupLabel} ${quote(path)}`,
        fixable: true,
      },
      apply: () =>
        withNoFollow({
          ...target,
          act: async (h) => {
            await h.chown(-1, group.gid);
            return `group ${stats.gid} -> ${group.gid}`;
          },
        }),
    });
  }
  const need = isDir ? GROUP_RWX : GROUP_RW;
  const otherNeed = isDir ? OTHER_RWX : OTHER_RW;
  const lacks = (stats.mode & need) !== need && (stats.mode & otherNeed) !== otherNeed;
  if (lacks || (isLock && (stats.mode & 0o060) !== 0o060)) {
    const bits = isDir ? 'g+rwx' : 'g+rw';
    checks.push({
      finding: {
        code: isLock ? 'lock-not-group-writable' : 'group-access',
        path,
        why: isLock
          ? `lock file mode ${octal(stats.mode)}: other users cannot open it to lock, so their downloads of this file fail or wait`
          : isDir
            ? `folder mode ${octal(stats.mode)}: other users of the group cannot ${stats.mode & 0o040 ? '' : 'list, '}create or remove entries in it`
            : `file mode ${octal(stats.mode)}: other users of the group cannot ${stats.mode & 0o040 ? 'update' : 'read'} it`,
        fix: isLock ? `chmod 0664 ${quote(path)}` : `chmod ${bits} ${quote(path)}`,
        fixable: true,
      },
      apply: chmodFrom((before) => (isLock ? (before | 0o664) & ~0o111 : before | need)),
    });
  }
  if (isDir && (stats.mode & S_ISGID) === 0) {
    checks.push({
      finding: {
        code: 'missing-setgid',
        path,
        why: "without setgid, files created in this folder get the creator's own group instead of the shared one",
        fix: `chmod g+s ${quote(path)}`,
        fixable: true,
      },
      apply: chmodFrom((before) => before | S_ISGID),
    });
  }
}
