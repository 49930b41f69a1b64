/**
 * `hubcache doctor`: what breaks a cache shared by containers that run as
 * different users of one group. Each finding names the path, why it matters,
 * and the exact fix; with `fix`, the fixable ones are applied.
 *
 * Links are never followed: ownership and modes are changed through a file
 * descriptor opened with O_NOFOLLOW (so a file swapped for a link meanwhile
 * is refused), and links themselves are only ever rewritten, never chmod-ed.
 */
import { constants as fsConstants, type Dirent, type Stats } from 'node:fs';
import { chmod, chown, lstat, open, readdir, readFile, readlink, realpath, rename, stat, symlink, unlink, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { hashAlgorithmForBlobName } from '../cache/etag.js';
import { hashFile } from '../cache/hashFile.js';
import { assertInsideCache, removeInsideCache } from '../cache/insideCache.js';
import { CACHEDIR_TAG_NAME, CACHEDIR_TAG_SIGNATURE, LOCKS_DIR_NAME } from '../cache/repoPaths.js';
import { scanCache, type CacheScan } from '../cache/scanCache.js';
import { isEtagLockHeld } from './etagLock.js';
import { DEFAULT_PARTIAL_MIN_AGE_MS } from './planPrune.js';
import { resolveGroup, type SharedGroup } from './resolveGroup.js';
import { cacheTempDir, ensureTempDir, tempPath } from '../cache/replaceViaTemp.js';

export type DoctorCode =
  | 'wrong-group'
  | 'group-access'
  | 'missing-setgid'
  | 'lock-not-group-writable'
  | 'absolute-link'
  | 'copy-of-blob'
  | 'ref-missing-snapshot'
  | 'dangling-link'
  | 'partial-file'
  | 'missing-cachedir-tag'
  | 'unreadable';

export interface DoctorFinding {
  code: DoctorCode;
  path: string;
  /** Why it matters for a shared cache. */
  why: string;
  /** The exact shell command, or what to do when no command does it. */
  fix: string;
  /** `--fix` can apply it. */
  fixable: boolean;
}

export interface DoctorChange {
  code: DoctorCode;
  path: string;
  /** What was changed, e.g. "mode 0600 -> 0660". */
  action: string;
}

export interface DoctorReport {
  cacheDir: string;
  group: SharedGroup;
  findings: DoctorFinding[];
  changes: DoctorChange[];
  /** Fixes that were tried and failed (permissions): the finding's `fix` says what to run instead. */
  failed: Array<{ code: DoctorCode; path: string; error: string; fix: string }>;
}

export interface DoctorCacheParams {
  cacheDir: string;
  /** `--group NAME|GID`; default: the group of the cache root. */
  group?: string;
  fix?: boolean;
  now?: number;
}

interface Check {
  finding: DoctorFinding;
  apply?: () => Promise<string>;
}

const GROUP_RW = 0o060;
const GROUP_RWX = 0o070;
const OTHER_RW = 0o006;
const OTHER_RWX = 0o007;
/** Not in Node's fs.constants typings; the POSIX value. */
const S_ISGID = 0o2000;

export async function doctorCache(params: DoctorCacheParams): Promise<DoctorReport> {
  const cacheDir = resolve(params.cacheDir);
  const group = await resolveGroup({ cacheDir, ...(params.group !== undefined ? { group: params.group } : {}) });
  const groupLabel = group.name ?? String(group.gid);
  const checks: Check[] = [];
  const rootReal = await realpath(cacheDir);

  // The fixes below make temps in the cache's temp folder: make it first, so the walk checks it too.
  if (params.fix) await ensureTempDir({ tempDir: cacheTempDir(cacheDir) }).catch(() => undefined);
  await checkCachedirTag({ cacheDir, group, checks });
  await walkTree({ cacheDir, rootReal, dir: cacheDir, group, groupLabel, checks, isRoot: true });
  const scan = await scanCache({ cacheDir });
  await checkScan({ cacheDir, scan, checks, now: params.now ?? Date.now() });

  const report: DoctorReport = { cacheDir, group, findings: checks.map((c) => c.finding), changes: [], failed: [] };
  if (!params.fix) return report;
  for (const check of checks) {
    if (!check.apply) continue;
    try {
      report.changes.push({ code: check.finding.code, path: check.finding.path, action: await check.apply() });
    } catch (err) {
      report.failed.push({ code: check.finding.code, path: check.finding.path, error: (err as Error).message, fix: check.finding.fix });
    }
  }
  return report;
}

async function checkCachedirTag(params: { cacheDir: string; group: SharedGroup; checks: Check[] }): Promise<void> {
  const path = join(params.cacheDir, CACHEDIR_TAG_NAME);
  const text = await readFile(path, 'utf8').catch(() => undefined);
  if (text !== undefined && text.startsWith(CACHEDIR_TAG_SIGNATURE)) return;
  params.checks.push({
    finding: {
      code: 'missing-cachedir-tag',
      path,
      why: text === undefined ? 'without it, backup tools (tar --exclude-caches, borg, restic) copy the whole cache' : 'it does not start with the CACHEDIR.TAG signature, so backup tools ignore it',
      fix: `printf 'Signature: 8a477f597d28d172789f06886806bc55\\n# This file is a cache directory tag created by hubcache.\\n' > ${quote(path)}`,
      fixable: true,
    },
    apply: async () => {
      await assertInsideCache({ cacheDir: params.cacheDir, path });
      const tmp = await tempPath({ tempDir: cacheTempDir(params.cacheDir) });
      await writeFile(tmp, `${CACHEDIR_TAG_SIGNATURE}\n# This file is a cache directory tag created by hubcache.\n# For information about cache directory tags see https://bford.info/cachedir/\n`);
      try {
        // Born right for the shared group, so the walk's own checks have nothing to say about it.
        await chown(tmp, -1, params.group.gid);
        await chmod(tmp, 0o664);
        await rename(tmp, path);
      } catch (err) {
        await unlink(tmp).catch(() => undefined);
        throw err;
      }
      return 'wrote CACHEDIR.TAG';
    },
  });
}

/** Permissions, ownership and link shape of every entry, links never followed. */
async function walkTree(params: {
  cacheDir: string;
  rootReal: string;
  dir: string;
  group: SharedGroup;
  groupLabel: string;
  checks: Check[];
  isRoot?: boolean;
}): Promise<void> {
  const { cacheDir, dir, checks } = params;
  // The root may itself be a link (a mounted volume's path); its target is the cache.
  const dirStats = params.isRoot ? await stat(dir) : await lstat(dir);
  checkOwnership({ ...params, path: dir, stats: dirStats, ...(params.isRoot ? { openPath: params.rootReal } : {}) });
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    checks.push({
      finding: { code: 'unreadable', path: dir, why: `hubcache cannot list it (${(err as NodeJS.ErrnoException).code ?? 'error'}), so neither can other tools running as this user`, fix: `sudo chmod g+rx ${quote(dir)}`, fixable: false },
    });
    return;
  }
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      await walkTree({ ...params, dir: path, isRoot: false });
      continue;
    }
    const stats = await lstat(path).catch(() => undefined);
    if (!stats) continue;
    if (stats.isSymbolicLink()) {
      await checkLink({ cacheDir, rootReal: params.rootReal, path, checks });
      continue;
    }
    if (stats.isFile()) checkOwnership({ ...params, path, stats });
  }
}

function checkOwnership(params: {
  cacheDir: string;
  path: string;
  /** Where to act when it differs from `path`: the real folder of a cache root that is a link. */
  openPath?: string;
  stats: Stats;
  group: SharedGroup;
  groupLabel: string;
  checks: Check[];
}): void {
  const { path, stats, group, groupLabel, checks, cacheDir } = params;
  const target = { cacheDir, path, ino: stats.ino, isDir: stats.isDirectory(), ...(params.openPath ? { openPath: params.openPath } : {}) };
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
      apply: () => withNoFollow({ ...target, act: async (h) => {
        await h.chown(-1, group.gid);
        return `group ${stats.gid} -> ${group.gid}`;
      } }),
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
      apply: () => withNoFollow({ ...target, act: async (h) => {
        const before = (await h.stat()).mode & 0o7777;
        const after = isLock ? (before | 0o664) & ~0o111 : before | need;
        await h.chmod(after);
        return `mode ${octal(before)} -> ${octal(after)}`;
      } }),
    });
  }
  if (isDir && (stats.mode & S_ISGID) === 0) {
    checks.push({
      finding: {
        code: 'missing-setgid',
        path,
        why: 'without setgid, files created in this folder get the creator\'s own group instead of the shared one',
        fix: `chmod g+s ${quote(path)}`,
        fixable: true,
      },
      apply: () => withNoFollow({ ...target, act: async (h) => {
        const before = (await h.stat()).mode & 0o7777;
        await h.chmod(before | S_ISGID);
        return `mode ${octal(before)} -> ${octal(before | S_ISGID)}`;
      } }),
    });
  }
}

async function checkLink(params: { cacheDir: string; rootReal: string; path: string; checks: Check[] }): Promise<void> {
  const { cacheDir, path } = params;
  const target = await readlink(path).catch(() => undefined);
  if (target === undefined || !isAbsolute(target)) return;
  // The same place seen from this mount: a target under the root's real path maps back under cacheDir.
  const mapped = isWithinOrSame(params.rootReal, target) ? join(cacheDir, relative(params.rootReal, target)) : target;
  const inside = isWithinOrSame(cacheDir, mapped);
  const relTarget = relative(dirname(path), mapped);
  params.checks.push({
    finding: {
      code: 'absolute-link',
      path,
      why: `absolute link to ${target}: containers that mount the cache at another path cannot resolve it`,
      fix: inside ? `ln -sfn ${quote(relTarget)} ${quote(path)}` : 'it points outside the cache: replace it with the file it points to, or remove it',
      fixable: inside,
    },
    ...(inside
      ? {
          apply: async () => {
            await assertInsideCache({ cacheDir, path });
            // New link at a temp name, then rename over: readers see the old link or the new one, never none.
            const tmp = await tempPath({ tempDir: cacheTempDir(cacheDir) });
            await symlink(relTarget, tmp);
            try {
              await rename(tmp, path);
            } catch (err) {
              await unlink(tmp).catch(() => undefined);
              throw err;
            }
            return `link rewritten as ${relTarget}`;
          },
        }
      : {}),
  });
}

async function checkScan(params: { cacheDir: string; scan: CacheScan; checks: Check[]; now: number }): Promise<void> {
  const { cacheDir, scan, checks } = params;
  for (const repo of scan.repos) {
    for (const warning of repo.warnings) {
      if (warning.code === 'ref-missing-snapshot') {
        checks.push({
          finding: {
            code: 'ref-missing-snapshot',
            path: warning.path,
            why: `${warning.message}: huggingface_hub's scan then hides the whole repo from \`hf cache ls\`, and offline loads of that ref fail`,
            fix: `rm ${quote(warning.path)}   # the next download of that revision writes it again`,
            fixable: true,
          },
          apply: async () => {
            await removeInsideCache({ cacheDir, path: warning.path });
            return 'removed the ref';
          },
        });
      } else if (warning.code === 'dangling-link') {
        checks.push({
          finding: { code: 'dangling-link', path: warning.path, why: `${warning.message}: the file looks cached but cannot be opened`, fix: 'hubcache verify --fix   # then download again', fixable: false },
        });
      }
    }
    for (const partial of repo.incomplete.files) {
      const name = partial.path.slice(partial.path.lastIndexOf('/') + 1);
      const held = await isEtagLockHeld({ cacheDir, repo: repo.folderName, name });
      const young = params.now - partial.lastModified < DEFAULT_PARTIAL_MIN_AGE_MS;
      checks.push({
        finding: {
          code: 'partial-file',
          path: partial.path,
          why: `unfinished download (${partial.bytes} bytes)` + (held ? ', still being written: a process holds its lock' : young ? ', written recently: may still be growing (llama.cpp does not lock)' : ', not locked and not written for a while: abandoned'),
          fix: held ? 'nothing: wait for the download to finish' : young ? 'wait; if it stays, `hubcache prune` removes it' : 'hubcache prune',
          fixable: false,
        },
      });
    }
    // The no-symlink layout where a blob exists: replacing the copy with a link frees its bytes.
    const blobSizes = new Map<number, string[]>();
    const blobsDir = join(repo.repoPath, 'blobs');
    for (const name of await readdir(blobsDir).catch(() => [] as string[])) {
      if (!hashAlgorithmForBlobName({ name })) continue;
      const stats = await lstat(join(blobsDir, name)).catch(() => undefined);
      if (!stats?.isFile()) continue;
      blobSizes.set(stats.size, [...(blobSizes.get(stats.size) ?? []), name]);
    }
    for (const revision of repo.revisions) {
      for (const file of revision.files) {
        if (file.layout !== 'copy') continue;
        const candidates = blobSizes.get(file.size);
        if (!candidates) continue;
        const match = await matchingBlob({ path: file.snapshotPath, candidates });
        if (!match) continue;
        const blobPath = join(blobsDir, match);
        const relTarget = relative(dirname(file.snapshotPath), blobPath);
        checks.push({
          finding: {
            code: 'copy-of-blob',
            path: file.snapshotPath,
            why: `a copy of blobs/${match} (${file.size} bytes stored twice); other tools expect a link here`,
            fix: `ln -sfn ${quote(relTarget)} ${quote(file.snapshotPath)}`,
            fixable: true,
          },
          apply: async () => {
            await assertInsideCache({ cacheDir, path: file.snapshotPath });
            // Only re-link if the copy is still the bytes we hashed and the blob is still there.
            const [now, blob] = await Promise.all([lstat(file.snapshotPath), lstat(blobPath)]);
            if (!now.isFile() || now.size !== file.size || !blob.isFile()) throw new Error('changed since it was checked; run doctor again');
            const tmp = await tempPath({ tempDir: cacheTempDir(cacheDir) });
            await symlink(relTarget, tmp);
            try {
              await rename(tmp, file.snapshotPath);
            } catch (err) {
              await unlink(tmp).catch(() => undefined);
              throw err;
            }
            return `replaced the copy with a link to blobs/${match}`;
          },
        });
      }
    }
  }
}

async function matchingBlob(params: { path: string; candidates: string[] }): Promise<string | undefined> {
  const digests = new Map<string, string>();
  for (const name of params.candidates) {
    const algorithm = hashAlgorithmForBlobName({ name });
    if (!algorithm) continue;
    let digest = digests.get(algorithm);
    if (digest === undefined) {
      digest = await hashFile({ path: params.path, algorithm }).then((r) => r.digest, () => '');
      digests.set(algorithm, digest);
    }
    if (digest === name) return name;
  }
  return undefined;
}

/**
 * Opens the entry with O_NOFOLLOW and acts on the descriptor, after checking
 * it is still the inode that was inspected: a file replaced by a link (or by
 * another file) between the check and the fix is left alone.
 */
async function withNoFollow(params: {
  cacheDir: string;
  path: string;
  openPath?: string;
  ino: number;
  isDir: boolean;
  act: (handle: { chown: (uid: number, gid: number) => Promise<void>; chmod: (mode: number) => Promise<void>; stat: () => Promise<Stats> }) => Promise<string>;
}): Promise<string> {
  // The cache root itself is not "inside" the root, but doctor must fix it too (through its real path).
  if (params.openPath === undefined) await assertInsideCache({ cacheDir: params.cacheDir, path: params.path });
  const path = params.openPath ?? params.path;
  const flags = fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK | (params.isDir ? fsConstants.O_DIRECTORY : 0);
  let handle;
  try {
    handle = await open(path, flags);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // The owner may chmod a file it cannot read (mode 0000): fall back to the path, after
    // checking the path still names the same non-link entry.
    if (code !== 'EACCES' && code !== 'EPERM') throw err;
    const now = await lstat(path);
    if (now.isSymbolicLink() || now.ino !== params.ino) throw new Error('replaced since it was checked; run doctor again');
    return params.act({
      chown: (uid, gid) => chown(path, uid, gid),
      chmod: (mode) => chmod(path, mode),
      stat: () => lstat(path),
    });
  }
  try {
    const stats = await handle.stat();
    if (stats.ino !== params.ino) throw new Error('replaced since it was checked; run doctor again');
    return await params.act({ chown: (uid, gid) => handle.chown(uid, gid), chmod: (mode) => handle.chmod(mode), stat: () => handle.stat() });
  } finally {
    await handle.close();
  }
}

function isWithinOrSame(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

function octal(mode: number): string {
  return `0${(mode & 0o7777).toString(8).padStart(3, '0')}`;
}

/** Single-quotes a path for a shell command. */
function quote(path: string): string {
  return /^[A-Za-z0-9_./:=+-]+$/.test(path) ? path : `'${path.replace(/'/g, `'\\''`)}'`;
}
