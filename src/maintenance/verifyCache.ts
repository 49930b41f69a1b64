/**
 * verify: re-hash every blob against its name, check every snapshot link
 * resolves inside its repo's blobs/, and every ref names a present snapshot.
 * With `fix`, damaged blobs and the links to them are removed (the next
 * download fetches them again), broken links are removed, absolute links are
 * rewritten relative, and nothing outside the cache root is ever touched.
 */
import { readlink, symlink } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import { hashAlgorithmForBlobName } from '../cache/etag.js';
import { startHashPool, type HashJob, type HashPool } from '../cache/hashPool.js';
import { assertInsideCache, removeInsideCache } from '../cache/insideCache.js';
import { cacheTempDir, replaceViaTemp } from '../cache/replaceViaTemp.js';
import { scanCache, type CacheWarningCode, type CachedRepo } from '../cache/scanCache.js';
import { lstat, readdir } from 'node:fs/promises';

export type VerifyFindingCode = CacheWarningCode | 'hash-mismatch' | 'unreadable-blob' | 'unverifiable-blob';

export interface VerifyFinding {
  code: VerifyFindingCode;
  /** `error` is damage (exit 1); `info` is worth knowing but harmless. */
  severity: 'error' | 'info';
  repo: string | undefined;
  path: string;
  message: string;
}

export interface VerifyAction {
  action: 'removed-blob' | 'removed-link' | 'removed-ref' | 'removed-entry' | 'relinked';
  path: string;
  reason: string;
}

export interface VerifyReport {
  cacheDir: string;
  ok: boolean;
  reposChecked: number;
  blobsChecked: number;
  bytesHashed: number;
  findings: VerifyFinding[];
  actions: VerifyAction[];
}

export interface VerifyCacheParams {
  cacheDir: string;
  /** Cache folder names (`models--org--name`) to check; all when absent. */
  repos?: string[];
  fix?: boolean;
  concurrency?: number;
  onProgress?: (event: { bytesDone: number; bytesTotal: number }) => void;
}

export async function verifyCache(params: VerifyCacheParams): Promise<VerifyReport> {
  // Workers boot while the scan runs: on a cache dominated by one big blob, boot time is on the critical path.
  const pool = startHashPool({ ...(params.concurrency !== undefined ? { concurrency: params.concurrency } : {}) });
  try {
    return await verifyWith({ ...params, pool });
  } finally {
    await pool.close();
  }
}

async function verifyWith(params: VerifyCacheParams & { pool: HashPool }): Promise<VerifyReport> {
  const scan = await scanCache({ cacheDir: params.cacheDir, ...(params.repos ? { repos: params.repos } : {}) });
  const findings: VerifyFinding[] = [];
  const actions: VerifyAction[] = [];
  for (const w of scan.warnings) findings.push({ code: w.code, severity: 'info', repo: undefined, path: w.path, message: w.message });

  const jobs: HashJob[] = [];
  const blobRepo = new Map<string, CachedRepo>();
  for (const repo of scan.repos) {
    for (const w of repo.warnings) findings.push({ code: w.code, severity: 'error', repo: repo.folderName, path: w.path, message: w.message });
    const blobsDir = join(repo.repoPath, 'blobs');
    const names = await readdir(blobsDir).catch(() => [] as string[]);
    for (const name of names) {
      if (name.endsWith('.incomplete') || name.endsWith('.downloadInProgress')) continue;
      const path = join(blobsDir, name);
      const stats = await lstat(path).catch(() => undefined);
      if (!stats || !stats.isFile()) continue;
      const algorithm = hashAlgorithmForBlobName({ name });
      if (!algorithm) {
        findings.push({ code: 'unverifiable-blob', severity: 'info', repo: repo.folderName, path, message: 'blob name is not a sha256 or git-sha1; cannot verify' });
        continue;
      }
      jobs.push({ path, algorithm, size: stats.size });
      blobRepo.set(path, repo);
    }
  }

  const results = await params.pool.hashMany({
    jobs,
    ...(params.onProgress ? { onProgress: params.onProgress } : {}),
  });
  const damagedBlobs = new Set<string>();
  let bytesHashed = 0;
  for (const result of results) {
    const repo = blobRepo.get(result.job.path);
    if (result.error) {
      findings.push({ code: 'unreadable-blob', severity: 'error', repo: repo?.folderName, path: result.job.path, message: `cannot read blob: ${result.error.message}` });
      continue;
    }
    bytesHashed += result.size;
    const expected = basename(result.job.path);
    if (result.digest !== expected) {
      damagedBlobs.add(result.job.path);
      findings.push({
        code: 'hash-mismatch',
        severity: 'error',
        repo: repo?.folderName,
        path: result.job.path,
        message: `content does not match its name: ${result.job.algorithm} is ${result.digest.slice(0, 16)}…, ${result.size} bytes`,
      });
    }
  }

  if (params.fix) {
    await applyFixes({ cacheDir: scan.cacheDir, repos: scan.repos, damagedBlobs, actions });
  }

  findings.sort((a, b) => a.path.localeCompare(b.path) || a.code.localeCompare(b.code));
  return {
    cacheDir: scan.cacheDir,
    ok: !findings.some((f) => f.severity === 'error'),
    reposChecked: scan.repos.length,
    blobsChecked: results.length,
    bytesHashed,
    findings,
    actions,
  };
}

async function applyFixes(params: { cacheDir: string; repos: CachedRepo[]; damagedBlobs: Set<string>; actions: VerifyAction[] }): Promise<void> {
  const { cacheDir, actions } = params;
  for (const repo of params.repos) {
    // Links first, then blobs: a crash in between leaves an orphan blob (harmless), never a link to nothing.
    for (const revision of repo.revisions) {
      for (const file of revision.files) {
        if (file.layout !== 'symlink') continue;
        const linksDamaged = file.blobPath !== undefined && params.damagedBlobs.has(file.blobPath);
        if (linksDamaged || file.problem === 'dangling-link' || file.problem === 'link-outside-repo') {
          if (await removeInsideCache({ cacheDir, path: file.snapshotPath })) {
            actions.push({
              action: 'removed-link',
              path: file.snapshotPath,
              reason: linksDamaged ? 'its blob is damaged' : file.problem === 'dangling-link' ? 'its blob is missing' : 'it points outside the repo',
            });
          }
        }
      }
    }
    for (const blob of params.damagedBlobs) {
      if (!blob.startsWith(repo.repoPath + '/')) continue;
      if (await removeInsideCache({ cacheDir, path: blob })) actions.push({ action: 'removed-blob', path: blob, reason: 'content does not match its name' });
    }
    for (const warning of repo.warnings) {
      if (warning.code === 'absolute-link') {
        const target = await readlink(warning.path).catch(() => undefined);
        if (!target) continue;
        const relTarget = relative(dirname(warning.path), target);
        await assertInsideCache({ cacheDir, path: warning.path });
        // Replace atomically: a reader sees the old link or the new one, never nothing.
        await replaceViaTemp({ tempDir: cacheTempDir(cacheDir), dest: warning.path, write: (tmp) => symlink(relTarget, tmp) });
        actions.push({ action: 'relinked', path: warning.path, reason: `absolute link rewritten as ${relTarget}` });
      } else if (warning.code === 'ref-missing-snapshot' || warning.code === 'bad-ref') {
        if (await removeInsideCache({ cacheDir, path: warning.path }).catch(() => false)) {
          actions.push({ action: 'removed-ref', path: warning.path, reason: warning.message });
        }
      } else if (warning.code === 'stray-entry') {
        if (await removeInsideCache({ cacheDir, path: warning.path, recursive: true })) {
          actions.push({ action: 'removed-entry', path: warning.path, reason: warning.message });
        }
      }
    }
  }
}
