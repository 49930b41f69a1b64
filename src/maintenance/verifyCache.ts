/**
 * verify: re-hash every blob against its name, check every snapshot link
 * resolves inside its repo's blobs/, and every ref names a present snapshot.
 * A blob that is a link is hashed through the link (Python resolves it too)
 * and reported. With `planFix`, the report carries the plan that repairs what
 * the layout defines (planVerifyFix); running it is executePlan's job, after
 * the user has seen and confirmed it, as for rm/prune/gc.
 */
import { lstat, readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { hashAlgorithmForBlobName } from '../cache/etag.js';
import { startHashPool, type HashJob, type HashPool } from '../cache/hashPool.js';
import { scanCache, type CacheWarningCode, type CachedRepo } from '../cache/scanCache.js';
import type { Plan } from './plan.js';
import { planVerifyFix } from './planVerifyFix.js';

export type VerifyFindingCode = CacheWarningCode | 'hash-mismatch' | 'unreadable-blob' | 'unverifiable-blob';

export interface VerifyFinding {
  code: VerifyFindingCode;
  /** `error` is damage (exit 1); `info` is worth knowing but harmless. */
  severity: 'error' | 'info';
  repo: string | undefined;
  path: string;
  message: string;
}

export interface VerifyReport {
  cacheDir: string;
  ok: boolean;
  reposChecked: number;
  blobsChecked: number;
  bytesHashed: number;
  findings: VerifyFinding[];
  /** With `planFix`: what `--fix` would change (empty when nothing is fixable). */
  fixPlan?: Plan;
}

export interface VerifyCacheParams {
  cacheDir: string;
  /** Cache folder names (`models--org--name`) to check; all when absent. */
  repos?: string[];
  /** Also plan the repairs (report.fixPlan); nothing is changed here. */
  planFix?: boolean;
  concurrency?: number;
  onProgress?: (event: { bytesDone: number; bytesTotal: number }) => void;
}

/** Scan warnings that are worth knowing but are no damage: the cache works as it is. */
const HARMLESS: ReadonlySet<CacheWarningCode> = new Set(['linked-blob']);

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
  for (const w of scan.warnings) findings.push({ code: w.code, severity: 'info', repo: undefined, path: w.path, message: w.message });

  const jobs: HashJob[] = [];
  const blobRepo = new Map<string, CachedRepo>();
  for (const repo of scan.repos) {
    for (const w of repo.warnings) findings.push({ code: w.code, severity: HARMLESS.has(w.code) ? 'info' : 'error', repo: repo.folderName, path: w.path, message: w.message });
    const blobsDir = join(repo.repoPath, 'blobs');
    const names = await readdir(blobsDir).catch(() => [] as string[]);
    for (const name of names) {
      if (name.endsWith('.incomplete') || name.endsWith('.downloadInProgress')) continue;
      const path = join(blobsDir, name);
      let stats = await lstat(path).catch(() => undefined);
      // A blob that is a link is hashed through it, as Python reads it (the scan reports the link).
      if (stats?.isSymbolicLink()) stats = await stat(path).catch(() => undefined);
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

  const fixPlan = params.planFix ? await planVerifyFix({ cacheDir: scan.cacheDir, repos: scan.repos, damagedBlobs }) : undefined;

  findings.sort((a, b) => a.path.localeCompare(b.path) || a.code.localeCompare(b.code));
  return {
    cacheDir: scan.cacheDir,
    ok: !findings.some((f) => f.severity === 'error'),
    reposChecked: scan.repos.length,
    blobsChecked: results.length,
    bytesHashed,
    findings,
    ...(fixPlan ? { fixPlan } : {}),
  };
}
