/**
 * `verify --store --fix`: the plan (which damaged blob objects go, how many bytes, why) built from a
 * verify report, and its run. Like the local `verify --fix`, the CLI prints the plan and asks
 * before anything runs, and what runs is exactly the plan: each item names the object whose bytes
 * were hashed by its S3 ETag, and deleteDamagedObject keeps whatever stands there now instead
 * (a replica may have filled the key again, with verified bytes, since). Only objects whose bytes
 * did not hash to their key are planned; an unreadable one is reported, never removed.
 */
import { deleteDamagedObject } from './deleteDamagedObject.js';
import type { S3Connection } from './s3Connection.js';
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

export interface StoreFixStep {
  item: StoreFixItem;
  /** removed; gone (already deleted); kept (another object stands there now); failed. */
  status: 'removed' | 'gone' | 'kept' | 'failed';
  detail?: string;
}

export interface StoreFixResult {
  removed: number;
  gone: number;
  bytesFreed: number;
  kept: StoreFixStep[];
  failed: StoreFixStep[];
}

export function planStoreFix(params: { report: VerifyStoreReport }): StoreFixPlan {
  const { report } = params;
  const items: StoreFixItem[] = report.findings
    .filter((f) => f.code === 'BLOB_HASH_MISMATCH' && f.objectEtag)
    .map((f) => ({ key: f.key, bytes: f.size ?? 0, objectEtag: f.objectEtag!, reason: `${f.message}: refilled from upstream on the next request` }));
  const notes = report.findings.filter((f) => f.code === 'BLOB_UNREADABLE').map((f) => `${f.key} could not be read (${f.message}): left alone, run verify --store again`);
  return { store: report.store, items, totals: { items: items.length, bytes: items.reduce((sum, i) => sum + i.bytes, 0) }, notes };
}

export async function runStoreFix(params: { conn: S3Connection; plan: StoreFixPlan; onStep?: (step: StoreFixStep) => void }): Promise<StoreFixResult> {
  const result: StoreFixResult = { removed: 0, gone: 0, bytesFreed: 0, kept: [], failed: [] };
  for (const item of params.plan.items) {
    let step: StoreFixStep;
    try {
      const outcome = await deleteDamagedObject({ conn: params.conn, key: item.key, objectEtag: item.objectEtag });
      step =
        outcome === 'changed'
          ? { item, status: 'kept', detail: 'another object was stored under this key since it was hashed (a replica filled it again): kept' }
          : { item, status: outcome };
    } catch (err) {
      step = { item, status: 'failed', detail: (err as Error).message };
    }
    if (step.status === 'removed') {
      result.removed += 1;
      result.bytesFreed += item.bytes;
    } else if (step.status === 'gone') result.gone += 1;
    else if (step.status === 'kept') result.kept.push(step);
    else result.failed.push(step);
    params.onStep?.(step);
  }
  return result;
}
