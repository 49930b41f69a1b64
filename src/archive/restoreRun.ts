/**
 * What the steps of one restore share: its options, the report it fills, and
 * what it knows of each blob so far (in the cache now, or refused). A blob is
 * keyed by `<repo folder>/<etag>` (blobKey): a repo folder name holds no `/`.
 */
import type { RestoreProblemCode } from './classifyEntry.js';
import type { RestoreRefOutcome } from './mergeRestoredRef.js';

export interface RestoreProblem {
  code: RestoreProblemCode | 'not-in-archive';
  /** The archive entry (or repo file) concerned. */
  entry: string;
  message: string;
}

export interface RestoreReport {
  format: 'hubcache-backup' | 'plain-tar';
  gzip: boolean;
  dryRun: boolean;
  /** Repo folders the archive restored (or would) something into. */
  repos: string[];
  /** written (dry run: verified and missing here), present (kept: already in the cache), refused (hash or size did not match). */
  blobs: { written: number; present: number; refused: number; bytesWritten: number };
  /** Snapshot links made or confirmed (dry run: that would be). */
  links: number;
  refs: RestoreRefOutcome[];
  problems: RestoreProblem[];
  /** Entries that hold nothing to restore (folders, partial downloads, other repos, files outside repos). */
  skipped: number;
  ok: boolean;
  seconds: number;
}

export interface RestoreRun {
  cacheDir: string;
  dryRun: boolean;
  /** Repo folders being restored, when not all. */
  selected: Set<string> | undefined;
  onWarning: ((message: string) => void) | undefined;
  report: RestoreReport;
  /** Repo folders something was restored (or linked) into. */
  touched: Set<string>;
  /** Blobs in the cache now (committed, kept, or in a dry run verified), with their sizes. */
  available: Map<string, number>;
  /** Blobs that failed their hash or size: their files are named in that problem, not again as missing. */
  refusedBlobs: Set<string>;
  problem(code: RestoreProblem['code'], entry: string, message: string): void;
  /** A blob refused: counted, remembered, and its problem named. */
  refuseBlob(key: string, code: RestoreProblem['code'], entry: string, message: string): void;
}

export function blobKey(folder: string, etag: string): string {
  return `${folder}/${etag}`;
}

export function createRestoreRun(params: {
  cacheDir: string;
  dryRun: boolean;
  selected: Set<string> | undefined;
  gzip: boolean;
  onWarning: ((message: string) => void) | undefined;
}): RestoreRun {
  const report: RestoreReport = {
    format: 'plain-tar',
    gzip: params.gzip,
    dryRun: params.dryRun,
    repos: [],
    blobs: { written: 0, present: 0, refused: 0, bytesWritten: 0 },
    links: 0,
    refs: [],
    problems: [],
    skipped: 0,
    ok: false,
    seconds: 0,
  };
  const refusedBlobs = new Set<string>();
  const problem = (code: RestoreProblem['code'], entry: string, message: string): void => void report.problems.push({ code, entry, message });
  return {
    cacheDir: params.cacheDir,
    dryRun: params.dryRun,
    selected: params.selected,
    onWarning: params.onWarning,
    report,
    touched: new Set(),
    available: new Map(),
    refusedBlobs,
    problem,
    refuseBlob: (key, code, entry, message) => {
      refusedBlobs.add(key);
      report.blobs.refused += 1;
      problem(code, entry, message);
    },
  };
}
