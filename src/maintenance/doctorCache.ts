/**
 * `hubcache doctor`: what breaks a cache shared by containers that run as
 * different users of one group. Each finding names the path, why it matters,
 * and the exact fix; with `fix`, the fixable ones are applied. The checks
 * live in `doctor/`, one per file.
 *
 * Links are never followed: ownership and modes are changed through a file
 * descriptor opened with O_NOFOLLOW (so a file swapped for a link meanwhile
 * is refused), links themselves are only ever rewritten, never chmod-ed, and
 * files that share their inode with a file outside the cache are left alone.
 */
import { realpath } from 'node:fs/promises';
import { resolve } from 'node:path';
import { scanCache } from '../cache/scanCache.js';
import { checkBlobCopies } from './doctor/checkBlobCopies.js';
import { checkCachedirTag } from './doctor/checkCachedirTag.js';
import { checkPermissions } from './doctor/checkPermissions.js';
import { checkScanFindings } from './doctor/checkScanFindings.js';
import type { DoctorCheck, DoctorCode, DoctorFinding } from './doctor/doctorCheck.js';
import { resolveGroup, type SharedGroup } from './resolveGroup.js';
import { cacheTempDir, ensureTempDir } from '../cache/replaceViaTemp.js';

export type { DoctorCode, DoctorFinding } from './doctor/doctorCheck.js';

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

export async function doctorCache(params: DoctorCacheParams): Promise<DoctorReport> {
  const cacheDir = resolve(params.cacheDir);
  const group = await resolveGroup({ cacheDir, ...(params.group !== undefined ? { group: params.group } : {}) });
  const checks: DoctorCheck[] = [];
  const rootReal = await realpath(cacheDir);
  // The fixes make temps in the cache's temp folder: make it first, so the walk checks it too.
  if (params.fix) await ensureTempDir({ tempDir: cacheTempDir(cacheDir) }).catch(() => undefined);

  await checkCachedirTag({ cacheDir, group, checks });
  await checkPermissions({ cacheDir, rootReal, group, checks });
  const scan = await scanCache({ cacheDir });
  await checkScanFindings({ cacheDir, scan, checks, now: params.now ?? Date.now() });
  await checkBlobCopies({ cacheDir, scan, checks });

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
