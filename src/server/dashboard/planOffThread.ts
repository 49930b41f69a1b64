/**
 * Plans a dashboard prune/evict on a worker thread. A plan walks the whole cache with
 * synchronous fs calls (scanCache's walk, the repo inventories): 20k files on the server's main
 * thread would stall every mirror request for the length of the walk. The worker posts back the
 * plan (plain data); confirming it later runs executePlan on the main thread, whose fs calls
 * are asynchronous.
 */
import { Worker } from 'node:worker_threads';
import { HubcacheError, type ErrorCode } from '../../errors.js';
import type { Plan } from '../../maintenance/plan.js';
import { dashboardPlan, type DashboardPlanParams } from './dashboardPlan.js';

export interface PlanOffThreadParams extends DashboardPlanParams {
  /** Aborted (the server closes): the worker is terminated and the promise rejects. */
  signal?: AbortSignal | undefined;
}

export interface PlanOffThreadResult {
  plan: Plan;
  /** `main` only where a worker cannot load this module (TypeScript sources under the test runner). */
  thread: 'worker' | 'main';
}

type WorkerReply = { plan: Plan } | { error: { code?: ErrorCode; message: string; hint?: string; data?: Record<string, unknown> } };

export async function planOffThread(params: PlanOffThreadParams): Promise<PlanOffThreadResult> {
  const { signal, ...plan } = params;
  if (!import.meta.url.endsWith('.js')) return { plan: await dashboardPlan(plan), thread: 'main' };
  const worker = new Worker(new URL('./planWorker.js', import.meta.url), { workerData: plan });
  const onAbort = (): void => void worker.terminate();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const reply = await new Promise<WorkerReply>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
      // Settled already after a message or an error; this catches a worker that died silently (terminated, out of memory).
      worker.once('exit', (code) => reject(new HubcacheError({ code: 'E_INTERNAL', message: `the planning worker exited with code ${code} before posting its plan`, data: { exitCode: code } })));
    });
    if ('error' in reply) {
      const e = reply.error;
      if (e.code) throw new HubcacheError({ code: e.code, message: e.message, ...(e.hint !== undefined ? { hint: e.hint } : {}), ...(e.data ? { data: e.data } : {}) });
      throw new Error(e.message);
    }
    return { plan: reply.plan, thread: 'worker' };
  } finally {
    signal?.removeEventListener('abort', onAbort);
    await worker.terminate();
  }
}
