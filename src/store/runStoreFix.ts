/**
 * `verify --store --fix`, its run: each planned object deleted through deleteDamagedObject, which
 * keeps whatever stands under the key now if it is not the object that was hashed (a replica may
 * have filled the key again, with verified bytes, since the plan was made).
 */
import { conditionalDeletes, deleteDamagedObject } from './deleteDamagedObject.js';
import type { StoreFixItem, StoreFixPlan } from './planStoreFix.js';
import type { S3Connection } from './s3Connection.js';

export interface StoreFixStep {
  item: StoreFixItem;
  /** removed; gone (already deleted); kept (another object stands there now); failed. */
  status: 'removed' | 'gone' | 'kept' | 'failed';
  detail?: string;
}

export interface StoreFixResult {
  /** How each delete was tied to the object that was hashed: one conditional request, or a HEAD just before. */
  deleteGuard: 'if-match' | 'head-check';
  removed: number;
  gone: number;
  bytesFreed: number;
  kept: StoreFixStep[];
  failed: StoreFixStep[];
}

export interface RunStoreFixParams {
  conn: S3Connection;
  plan: StoreFixPlan;
  onStep?: (step: StoreFixStep) => void;
}

export async function runStoreFix(params: RunStoreFixParams): Promise<StoreFixResult> {
  const ifMatch = params.plan.items.length > 0 && (await conditionalDeletes(params.conn));
  const result: StoreFixResult = { deleteGuard: ifMatch ? 'if-match' : 'head-check', removed: 0, gone: 0, bytesFreed: 0, kept: [], failed: [] };
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
