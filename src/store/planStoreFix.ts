/**
 * `verify --store --fix`, its plan: which damaged blob objects go, how many bytes, why, built from a
 * verify report (pure). Like the local `verify --fix`, the CLI prints the plan and asks before
 * anything runs, and what runs (runStoreFix) is exactly the plan: each item names the object whose
 * bytes were hashed by its S3 ETag. Only objects whose bytes did not hash to their key are planned;
 * an unreadable one is reported, never removed.
 */
import type { VerifyStoreReport } from './verifyStore.js';

export interface StoreFixItem {
  /** The blob object's key in the bucket. */
  key: string;
  /** Its size when it was hashed. */
  bytes: number;
  /** The S3 ETag of the object that was hashed: only that object is deleted. */
  objectEtag: string;
  reason: string;
}

export interface StoreFixPlan {
  /** `s3://bucket/prefix at <endpoint>`. */
  store: string;
  items: StoreFixItem[];
  totals: { items: number; bytes: number };
  /** What is reported and left alone (unreadable objects). */
  notes: string[];
}

export function planStoreFix(params: { report: VerifyStoreReport }): StoreFixPlan {
  const { report } = params;
  const items: StoreFixItem[] = report.findings
    .filter((f) => f.code === 'BLOB_HASH_MISMATCH' && f.objectEtag)
    .map((f) => ({ key: f.key, bytes: f.size ?? 0, objectEtag: f.objectEtag!, reason: `${f.message}: refilled from upstream on the next request` }));
  const notes = report.findings.filter((f) => f.code === 'BLOB_UNREADABLE').map((f) => `${f.key} could not be read (${f.message}): left alone, run verify --store again`);
  return { store: report.store, items, totals: { items: items.length, bytes: items.reduce((sum, i) => sum + i.bytes, 0) }, notes };
}
