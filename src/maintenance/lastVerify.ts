/**
 * The outcome of the last `verify`, kept so the dashboard (or anyone) can say when the cache
 * was last checked and what was found, without re-hashing it. One small JSON file in
 * hubcache's own folder (`.locks/.hubcache/last-verify.json`), written by temp + rename.
 * A hint, never needed for correctness: saving is best effort (a read-only cache still verifies).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cacheTempDir, replaceViaTemp } from '../cache/replaceViaTemp.js';
import { HUBCACHE_DIR_NAME } from '../cache/repoPaths.js';
import type { VerifyFinding, VerifyReport } from './verifyCache.js';

export const LAST_VERIFY_FILE = join(HUBCACHE_DIR_NAME, 'last-verify.json');

/** Findings kept in the record: enough to show, bounded whatever the damage. */
const MAX_FINDINGS = 200;

export interface LastVerify {
  /** ISO time the verify finished. */
  finishedAt: string;
  ms: number;
  /** Repo folders checked; null: the whole cache. */
  repos: string[] | null;
  ok: boolean;
  reposChecked: number;
  blobsChecked: number;
  bytesHashed: number;
  findingCount: number;
  findings: VerifyFinding[];
}

export interface SaveLastVerifyParams {
  cacheDir: string;
  /** What verifyCache reported (its fix plan is not kept). */
  report: VerifyReport;
  /** The repo folders verified; undefined: the whole cache. */
  repos?: string[] | undefined;
  /** How long the verify took. */
  ms: number;
}

export async function saveLastVerify(params: SaveLastVerifyParams): Promise<void> {
  const { report } = params;
  const record: LastVerify = {
    finishedAt: new Date().toISOString(),
    ms: params.ms,
    repos: params.repos ?? null,
    ok: report.ok,
    reposChecked: report.reposChecked,
    blobsChecked: report.blobsChecked,
    bytesHashed: report.bytesHashed,
    findingCount: report.findings.length,
    findings: report.findings.slice(0, MAX_FINDINGS),
  };
  await replaceViaTemp({
    tempDir: cacheTempDir(params.cacheDir),
    dest: join(params.cacheDir, LAST_VERIFY_FILE),
    write: (tmp) => writeFile(tmp, JSON.stringify(record)),
  }).catch(() => undefined);
}

export async function readLastVerify(params: { cacheDir: string }): Promise<LastVerify | undefined> {
  try {
    const text = await readFile(join(params.cacheDir, LAST_VERIFY_FILE), 'utf8');
    if (text.length > 4 * 1024 * 1024) return undefined;
    const value = JSON.parse(text) as LastVerify;
    return typeof value.finishedAt === 'string' && typeof value.ok === 'boolean' ? value : undefined;
  } catch {
    return undefined;
  }
}
