/**
 * When hubcache last served or resolved a file of each revision, so evict can
 * rank revisions by real use even on `noatime` mounts. One small JSON file
 * per repo under `<root>/.locks/.hubcache/access/`, never inside a repo folder
 * (other tools would take it for cache content).
 *
 * This is a hint, never needed for correctness: every failure is swallowed
 * (a read-only cache must keep working), concurrent writers may drop each
 * other's update (last rename wins; the next access records again), and
 * writes are throttled so a busy server does not rewrite the file per request.
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cacheTempDir, replaceViaTemp } from './replaceViaTemp.js';
import { parseRepoFolderName } from './repoId.js';
import { HUBCACHE_DIR_NAME } from './repoPaths.js';
import { isCommitHash } from './revision.js';

export const ACCESS_LOG_DIR = join(HUBCACHE_DIR_NAME, 'access');

/** A newer access within this window of the recorded one is not worth a write. */
const WRITE_THROTTLE_MS = 60_000;

interface AccessFile {
  version: 1;
  /** commit -> last access, ms since the epoch. */
  revisions: Record<string, number>;
}

/** repo folder name -> (commit -> last access in ms). */
export type AccessLog = Map<string, Map<string, number>>;

export interface RecordAccessParams {
  cacheDir: string;
  /** `models--org--name`. */
  repoFolder: string;
  commit: string;
  /** Default: now. */
  at?: number;
}

export async function recordAccess(params: RecordAccessParams): Promise<void> {
  const at = params.at ?? Date.now();
  // Names become paths: anything that is not a repo folder or a commit is ignored, never written.
  if (!parseRepoFolderName({ name: params.repoFolder }) || !isCommitHash(params.commit) || !Number.isFinite(at)) return;
  const dir = join(params.cacheDir, ACCESS_LOG_DIR);
  const path = join(dir, `${params.repoFolder}.json`);
  try {
    const current = (await readAccessFile({ path })) ?? { version: 1, revisions: {} };
    const known = current.revisions[params.commit] ?? 0;
    if (at <= known || at - known < WRITE_THROTTLE_MS) return;
    current.revisions[params.commit] = at;
    await mkdir(dir, { recursive: true });
    await replaceViaTemp({ tempDir: cacheTempDir(params.cacheDir), dest: path, write: (tmp) => writeFile(tmp, JSON.stringify(current)) });
  } catch {
    // Read-only mount, full disk, no permission: the record is a hint, the caller's work matters more.
  }
}

export async function readAccessLog(params: { cacheDir: string }): Promise<AccessLog> {
  const log: AccessLog = new Map();
  const dir = join(params.cacheDir, ACCESS_LOG_DIR);
  const names = await readdir(dir).catch(() => [] as string[]);
  await Promise.all(
    names.map(async (name) => {
      if (!name.endsWith('.json')) return;
      const repoFolder = name.slice(0, -'.json'.length);
      if (!parseRepoFolderName({ name: repoFolder })) return;
      const file = await readAccessFile({ path: join(dir, name) });
      if (!file) return;
      const revisions = new Map<string, number>();
      for (const [commit, at] of Object.entries(file.revisions)) if (isCommitHash(commit) && Number.isFinite(at)) revisions.set(commit, at);
      log.set(repoFolder, revisions);
    }),
  );
  return log;
}

async function readAccessFile(params: { path: string }): Promise<AccessFile | undefined> {
  try {
    const parsed = JSON.parse(await readFile(params.path, 'utf8')) as Partial<AccessFile>;
    if (parsed && typeof parsed.revisions === 'object' && parsed.revisions !== null) return { version: 1, revisions: { ...parsed.revisions } };
  } catch {
    // Missing, or torn by a crash before rename existed: start over, it is only a hint.
  }
  return undefined;
}
