/**
 * Worker entry for planOffThread: plans (the cache walk is synchronous) and posts the plan, or
 * the error as plain fields (a HubcacheError's class does not survive the structured clone).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { isHubcacheError } from '../../errors.js';
import { dashboardPlan, type DashboardPlanParams } from './dashboardPlan.js';

dashboardPlan(workerData as DashboardPlanParams).then(
  (plan) => parentPort?.postMessage({ plan }),
  (err: unknown) =>
    parentPort?.postMessage({
      error: isHubcacheError(err) ? { code: err.code, message: err.message, hint: err.hint, data: err.data } : { message: (err as Error).message ?? String(err) },
    }),
);
