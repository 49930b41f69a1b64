/**
 * `serve --store --budget`: the replica's local read cache kept within the budget by the same
 * plan as `hubcache evict --max-size` (least recently used revisions first, pins kept), run after
 * fills, one run at a time (a request for a run while one is going makes one more run after it).
 */
import { executePlan } from '../maintenance/executePlan.js';
import { planEvict } from '../maintenance/planEvict.js';

export function localEvictor(params: { cacheDir: string; budgetBytes: number; onError?: (err: unknown) => void }): () => void {
  let running: Promise<void> | undefined;
  let again = false;
  const run = async (): Promise<void> => {
    do {
      again = false;
      try {
        const plan = await planEvict({ cacheDir: params.cacheDir, maxBytes: params.budgetBytes });
        if (plan.items.length > 0) await executePlan({ cacheDir: params.cacheDir, plan });
      } catch (err) {
        params.onError?.(err);
      }
    } while (again);
  };
  return () => {
    if (running) {
      again = true;
      return;
    }
    running = run().finally(() => {
      running = undefined;
    });
  };
}
