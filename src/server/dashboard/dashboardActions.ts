/**
 * What an admin can do from the dashboard, with the very planners and executor the CLI uses:
 * `prune` and `evict --max-size` build a Plan (the same object `--dry-run --json` prints), the
 * page shows it, and only a confirm of that plan's id runs it through `executePlan`. Plans are
 * made on a worker thread (planOffThread: their cache walk is synchronous). `sync` and
 * `verify` run in the background and report in the action log. Every action, refusals included,
 * is logged with who asked (the admin token's label), here and through `log`.
 */
import { randomBytes } from 'node:crypto';
import { HubcacheError, isHubcacheError } from '../../errors.js';
import { formatBytes } from '../../cli/format.js';
import { executePlan, type ExecuteResult } from '../../maintenance/executePlan.js';
import type { Plan } from '../../maintenance/plan.js';
import type { Manifest } from '../../manifest/manifest.js';
import { planOffThread } from './planOffThread.js';
import { runCliJson } from './runCliJson.js';
import { watchEventLoop } from './watchEventLoop.js';

export type ActionKind = 'plan-prune' | 'plan-evict' | 'confirm' | 'sync' | 'verify' | 'doctor';

export interface ActionRecord {
  id: string;
  time: string;
  /** The admin token's label; `anonymous` for refused requests without one. */
  who: string;
  action: ActionKind;
  state: 'running' | 'done' | 'failed' | 'refused';
  summary: string;
}

export interface PlanReview {
  id: string;
  command: 'prune' | 'evict';
  createdAt: string;
  who: string;
  plan: Pick<Plan, 'command' | 'totals' | 'revisions' | 'notes' | 'budget'> & {
    /** The first items (a plan of 100k paths is not sent whole; the revisions summarise it). */
    items: Plan['items'];
    itemCount: number;
  };
  /** How the planning went for the server: where the cache walk ran, and the worst event-loop delay meanwhile. */
  planning: { ms: number; thread: 'worker' | 'main'; eventLoopDelayMaxMs: number };
}

export interface DashboardActionsParams {
  cacheDir: string;
  /** The manifest file: its revisions are never planned for removal, and `sync` syncs it. */
  manifestPath: string | undefined;
  loadManifest: () => Promise<Manifest | undefined>;
  /** What `sync` runs (injected so this file does not reach up into the manifest's network code's options). */
  sync: (manifest: Manifest) => Promise<{ ok: boolean; bytesDownloaded: number; summary: string }>;
  /** Something changed in the cache (rescan). */
  changed: () => void;
  log?: (record: ActionRecord) => void;
  /** Aborted when the server closes: a running verify (a child process) is stopped. */
  signal?: AbortSignal;
}

/** Plans wait this long for their confirm; older ones must be planned again (the cache moved on). */
const PLAN_TTL_MS = 15 * 60_000;
const MAX_PLANS = 16;
const MAX_RECORDS = 100;
const ITEMS_SHOWN = 200;

export class DashboardActions {
  private readonly plans = new Map<string, { plan: Plan; review: PlanReview; at: number }>();
  private readonly records: ActionRecord[] = [];
  private readonly busy = new Set<'sync' | 'verify' | 'execute'>();

  constructor(private readonly params: DashboardActionsParams) {}

  log(): ActionRecord[] {
    return [...this.records].reverse();
  }

  refused(params: { who: string | undefined; action: ActionKind; why: string }): void {
    this.record({ who: params.who ?? 'anonymous', action: params.action, state: 'refused', summary: params.why });
  }

  async plan(params: { who: string; command: 'prune' | 'evict'; maxBytes?: number | undefined }): Promise<PlanReview> {
    const action: ActionKind = params.command === 'prune' ? 'plan-prune' : 'plan-evict';
    const record = this.record({ who: params.who, action, state: 'running', summary: 'planning' });
    // The server's event loop, watched while the plan is made: the promise that it keeps answering, measured.
    const loop = watchEventLoop();
    const started = Date.now();
    try {
      const { plan, thread } = await planOffThread({
        cacheDir: this.params.cacheDir,
        command: params.command,
        maxBytes: params.maxBytes,
        manifestPath: this.params.manifestPath,
        signal: this.params.signal,
      });
      const eventLoopDelayMaxMs = loop.stop();
      const id = randomBytes(12).toString('hex');
      const review: PlanReview = {
        id,
        command: params.command,
        createdAt: plan.createdAt,
        who: params.who,
        plan: {
          command: plan.command,
          totals: plan.totals,
          revisions: plan.revisions,
          notes: plan.notes,
          ...(plan.budget ? { budget: plan.budget } : {}),
          items: plan.items.slice(0, ITEMS_SHOWN),
          itemCount: plan.items.length,
        },
        planning: { ms: Date.now() - started, thread, eventLoopDelayMaxMs },
      };
      this.expirePlans();
      this.plans.set(id, { plan, review, at: Date.now() });
      this.finish(record, 'done', `plan ${id.slice(0, 8)}: ${plan.totals.items} item(s), ${formatBytes(plan.totals.bytes)} in ${plan.revisions.length} revision(s)`);
      return review;
    } catch (err) {
      this.finish(record, 'failed', (err as Error).message);
      throw err;
    } finally {
      loop.stop();
    }
  }

  async confirm(params: { who: string; planId: string }): Promise<ExecuteResult> {
    const entry = this.plans.get(params.planId);
    if (!entry || Date.now() - entry.at > PLAN_TTL_MS) {
      this.refused({ who: params.who, action: 'confirm', why: `no plan ${params.planId.slice(0, 8)} (expired or unknown): plan again` });
      throw new HubcacheError({ code: 'E_USAGE', message: 'Unknown or expired plan: plan again and review it' });
    }
    if (this.busy.has('execute')) throw new HubcacheError({ code: 'E_BUSY', message: 'Another plan is running' });
    this.plans.delete(params.planId);
    this.busy.add('execute');
    const record = this.record({ who: params.who, action: 'confirm', state: 'running', summary: `running ${entry.plan.command} plan ${params.planId.slice(0, 8)}` });
    try {
      const result = await executePlan({ cacheDir: this.params.cacheDir, plan: entry.plan });
      this.finish(
        record,
        result.failed.length > 0 ? 'failed' : 'done',
        `${entry.plan.command} plan ${params.planId.slice(0, 8)} (planned by ${entry.review.who}): removed ${result.removed} of ${entry.plan.totals.items} item(s), freed ${formatBytes(result.bytesFreed)}` +
          (result.skipped.length > 0 ? `, ${result.skipped.length} kept` : '') +
          (result.failed.length > 0 ? `, ${result.failed.length} failed` : ''),
      );
      return result;
    } catch (err) {
      this.finish(record, 'failed', (err as Error).message);
      throw err;
    } finally {
      this.busy.delete('execute');
      this.params.changed();
    }
  }

  /** Starts a sync of the manifest in the background; its outcome goes to the action log. */
  async startSync(params: { who: string }): Promise<ActionRecord> {
    const manifest = await this.params.loadManifest();
    if (!manifest) throw new HubcacheError({ code: 'E_MANIFEST', message: 'No manifest: start serve with --manifest FILE to sync from the dashboard' });
    return this.background({ who: params.who, action: 'sync', key: 'sync', run: () => this.params.sync(manifest) });
  }

  /** Starts `hubcache verify` (a child process: hashing must not stall the server) in the background. */
  startVerify(params: { who: string }): ActionRecord {
    return this.background({
      who: params.who,
      action: 'verify',
      key: 'verify',
      run: async () => {
        const result = await runCliJson({ args: ['verify'], cacheDir: this.params.cacheDir, ...(this.params.signal ? { signal: this.params.signal } : {}) });
        const report = result.value as { ok?: boolean; findings?: unknown[]; blobsChecked?: number } | undefined;
        if (!report || typeof report.ok !== 'boolean') throw new Error(`verify did not report (exit ${result.code}): ${result.stderr.trim().slice(-300)}`);
        return { ok: report.ok, summary: `${report.blobsChecked ?? 0} blob(s) checked, ${report.findings?.length ?? 0} finding(s)` };
      },
    });
  }

  private background(params: { who: string; action: ActionKind; key: 'sync' | 'verify'; run: () => Promise<{ ok: boolean; summary: string }> }): ActionRecord {
    if (this.busy.has(params.key)) throw new HubcacheError({ code: 'E_BUSY', message: `A ${params.key} is already running` });
    this.busy.add(params.key);
    const record = this.record({ who: params.who, action: params.action, state: 'running', summary: `${params.key} started` });
    void params
      .run()
      .then(
        (outcome) => this.finish(record, outcome.ok ? 'done' : 'failed', outcome.summary),
        (err: unknown) => this.finish(record, 'failed', isHubcacheError(err) ? err.message : (err as Error).message),
      )
      .finally(() => {
        this.busy.delete(params.key);
        this.params.changed();
      });
    return { ...record };
  }

  private expirePlans(): void {
    const now = Date.now();
    for (const [id, entry] of this.plans) if (now - entry.at > PLAN_TTL_MS) this.plans.delete(id);
    while (this.plans.size >= MAX_PLANS) this.plans.delete(this.plans.keys().next().value as string);
  }

  private record(params: Omit<ActionRecord, 'id' | 'time'>): ActionRecord {
    const record: ActionRecord = { id: randomBytes(6).toString('hex'), time: new Date().toISOString(), ...params };
    this.records.push(record);
    if (this.records.length > MAX_RECORDS) this.records.splice(0, this.records.length - MAX_RECORDS);
    if (params.state !== 'running') this.params.log?.({ ...record });
    return record;
  }

  private finish(record: ActionRecord, state: ActionRecord['state'], summary: string): void {
    record.state = state;
    record.summary = summary;
    record.time = new Date().toISOString();
    this.params.log?.({ ...record });
  }
}
