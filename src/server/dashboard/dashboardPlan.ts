/**
 * The plan an admin reviews in the dashboard: `prune`, or `evict` down to a budget, with the
 * revisions the manifest's services need pinned (as the CLI pins them). One function, so the
 * worker thread and the in-thread fallback (planOffThread) plan exactly alike.
 */
import { HubcacheError } from '../../errors.js';
import type { Plan } from '../../maintenance/plan.js';
import { planEvict } from '../../maintenance/planEvict.js';
import { planPrune } from '../../maintenance/planPrune.js';
import { manifestProtection } from '../../manifest/manifestProtection.js';

export interface DashboardPlanParams {
  cacheDir: string;
  command: 'prune' | 'evict';
  /** evict's budget (required for evict). */
  maxBytes?: number | undefined;
  /** The manifest whose revisions stay (undefined: `./hubcache.yaml` if present, as the CLI does). */
  manifestPath: string | undefined;
}

export async function dashboardPlan(params: DashboardPlanParams): Promise<Plan> {
  const { pinned, note } = await manifestProtection({ pinned: new Set(), cacheDir: params.cacheDir, manifestPath: params.manifestPath, force: false });
  let plan: Plan;
  if (params.command === 'evict') {
    if (params.maxBytes === undefined) throw new HubcacheError({ code: 'E_USAGE', message: 'evict needs a size budget (maxSize)' });
    plan = await planEvict({ cacheDir: params.cacheDir, maxBytes: params.maxBytes, pinned });
  } else {
    plan = await planPrune({ cacheDir: params.cacheDir, pinned });
  }
  if (note) plan.notes.push(note);
  return plan;
}
