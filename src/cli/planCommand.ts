/**
 * What rm, prune, gc and evict share once their plan is built: print it as a
 * table (what, bytes, why), stop on `--dry-run`, ask on a terminal unless
 * `--yes`, run it, and report what was actually freed.
 */
import type { Command } from 'commander';
import { HubcacheError } from '../errors.js';
import { formatRepoRef, parseRepoFolderName } from '../cache/repoId.js';
import { executePlan, type ExecuteResult } from '../maintenance/executePlan.js';
import type { Plan, PlanItem, PlanItemKind } from '../maintenance/plan.js';
import { confirm } from './confirm.js';
import type { CommandContext } from './context.js';
import { formatBytes } from './format.js';
import type { Output } from './output.js';
import type { StoreFixPlan } from '../store/planStoreFix.js';
import type { StoreFixResult } from '../store/runStoreFix.js';

export interface PlanOptions {
  dryRun?: boolean;
  yes?: boolean;
  verbose?: boolean;
}

export function addPlanOptions(command: Command): Command {
  return command
    .option('-n, --dry-run', 'print the plan and stop; nothing is changed')
    .option('-y, --yes', 'do not ask for confirmation (needed when stdin is not a terminal)')
    .option('-v, --verbose', 'list every path in the plan, not one line per revision');
}

/** What a command adds around the plan: its own report (first in the text, merged into the JSON) and a check once the plan ran. */
export interface PlanReport {
  data: Record<string, unknown>;
  text: string[];
  /** Runs after the plan was executed (not on dry runs or empty plans); its data joins the JSON, its text ends the output. */
  after?: (result: ExecuteResult) => Promise<{ data: Record<string, unknown>; text: string[]; ok: boolean }>;
}

export async function runPlan(params: { ctx: CommandContext; plan: Plan; options: PlanOptions; report?: PlanReport }): Promise<number> {
  const { ctx, plan, options, report } = params;
  const { out } = ctx;
  const problem = plan.budget !== undefined && !plan.budget.met;
  const reportText = report?.text ?? [];
  if (plan.items.length === 0) {
    out.result({ data: { ...report?.data, plan, dryRun: options.dryRun === true, result: null }, text: [...reportText, ...budgetLines(plan), ...noteLines(plan), 'Nothing to remove.'] });
    return problem ? 1 : 0;
  }
  if (!out.json) out.result({ data: null, text: [...reportText, ...planLines({ out, plan, verbose: options.verbose === true })] });
  if (options.dryRun) {
    if (out.json) out.result({ data: { ...report?.data, plan, dryRun: true, result: null } });
    else out.info('Dry run: nothing was changed.');
    return problem ? 1 : 0;
  }
  const ok = await confirm({ question: `${plan.command === 'verify' ? 'Change' : 'Remove'} ${plan.totals.items} item(s), freeing ${formatBytes(plan.totals.bytes)}?`, yes: options.yes === true });
  if (!ok) throw new HubcacheError({ code: 'E_ABORTED', message: 'Not confirmed; nothing was changed' });

  let done = 0;
  let lastDraw = 0;
  const result = await executePlan({
    cacheDir: ctx.config.cacheDir,
    plan,
    onStep: () => {
      done += 1;
      const now = Date.now();
      if (now - lastDraw < 100 && done < plan.items.length) return;
      lastDraw = now;
      out.live([`removing ${done}/${plan.items.length}`]);
    },
  });
  const after = report?.after ? await report.after(result) : undefined;
  out.result({ data: { ...report?.data, plan, dryRun: false, result, ...after?.data }, text: [...resultLines({ plan, result }), ...(after?.text ?? [])] });
  return result.failed.length > 0 || problem || after?.ok === false ? 1 : 0;
}

/**
 * `verify --store --fix`: the same steps for objects of a shared store (print the plan, stop on
 * `--dry-run`, ask unless `--yes`, run, report, check after), with the store's own plan and run.
 */
export async function runStorePlan(params: {
  ctx: CommandContext;
  plan: StoreFixPlan;
  options: PlanOptions;
  report: { data: Record<string, unknown>; text: string[] };
  run: (params: { onStep: () => void }) => Promise<StoreFixResult>;
  /** Once the plan ran: the store verified again (its data joins the JSON, its text ends the output). */
  after: () => Promise<{ data: Record<string, unknown>; text: string[]; ok: boolean }>;
}): Promise<number> {
  const { ctx, plan, options, report } = params;
  const { out } = ctx;
  const notes = plan.notes.map((n) => `note: ${n}`);
  if (plan.items.length === 0) {
    out.result({ data: { ...report.data, plan, dryRun: options.dryRun === true, result: null }, text: [...report.text, ...notes, 'Nothing to remove.'] });
    return 0;
  }
  if (!out.json) {
    const table = out.table({
      rows: plan.items,
      columns: [
        { header: 'OBJECT', value: (item) => item.key },
        { header: 'BYTES', value: (item) => formatBytes(item.bytes), align: 'right' },
        { header: 'WHY', value: (item) => item.reason },
      ],
    });
    out.result({ data: null, text: [...report.text, ...table, '', `Plan (verify --store --fix): remove ${plan.totals.items} damaged object(s), ${formatBytes(plan.totals.bytes)}, from ${plan.store}`, ...notes] });
  }
  if (options.dryRun) {
    if (out.json) out.result({ data: { ...report.data, plan, dryRun: true, result: null } });
    else out.info('Dry run: nothing was changed.');
    return 0;
  }
  const ok = await confirm({ question: `Remove ${plan.totals.items} object(s) (${formatBytes(plan.totals.bytes)}) from the store?`, yes: options.yes === true });
  if (!ok) throw new HubcacheError({ code: 'E_ABORTED', message: 'Not confirmed; nothing was changed' });
  let done = 0;
  const result = await params.run({ onStep: () => out.live([`removing ${++done}/${plan.items.length}`]) });
  const after = await params.after();
  const lines = [
    ...result.kept.map((step) => `kept    ${step.item.key}\n        ${step.detail ?? ''}`),
    ...result.failed.map((step) => `FAILED  ${step.item.key}\n        ${step.detail ?? ''}`),
    `Removed ${result.removed} of ${plan.totals.items} object(s), ${formatBytes(result.bytesFreed)}` +
      (result.gone > 0 ? `; ${result.gone} already gone` : '') +
      (result.kept.length > 0 ? `; ${result.kept.length} kept (stored again since)` : '') +
      (result.failed.length > 0 ? `; ${result.failed.length} FAILED (see above)` : '') +
      (result.deleteGuard === 'if-match' ? ' (each delete conditional on the hashed object: If-Match)' : ' (each checked by a HEAD just before: this store ignores If-Match on deletes)'),
  ];
  out.result({ data: { ...report.data, plan, dryRun: false, result, ...after.data }, text: [...lines, ...after.text] });
  return result.failed.length > 0 || !after.ok ? 1 : 0;
}

function planLines(params: { out: Output; plan: Plan; verbose: boolean }): string[] {
  const { plan, out } = params;
  const lines: string[] = [];
  if (params.verbose) {
    const rows = plan.items.map((item) => ({ item }));
    lines.push(
      ...out.table({
        rows,
        columns: [
          { header: 'KIND', value: (r) => r.item.kind },
          { header: 'BYTES', value: (r) => formatBytes(r.item.bytes), align: 'right' },
          { header: 'PATH', value: (r) => r.item.path },
          { header: 'WHY', value: (r) => r.item.reason },
        ],
      }),
    );
  } else {
    lines.push(
      ...out.table({
        rows: groupItems({ plan }),
        columns: [
          { header: 'WHAT', value: (g) => g.what },
          { header: 'ITEMS', value: (g) => g.counts },
          { header: 'BYTES', value: (g) => formatBytes(g.bytes), align: 'right' },
          { header: 'WHY', value: (g) => g.reason },
        ],
      }),
    );
  }
  lines.push('', `Plan (${plan.command}): ${plan.totals.items} item(s) in ${plan.revisions.length} revision(s), frees ${formatBytes(plan.totals.bytes)} in ${plan.cacheDir}`);
  lines.push(...budgetLines(plan), ...noteLines(plan));
  return lines;
}

function budgetLines(plan: Plan): string[] {
  const b = plan.budget;
  if (!b) return [];
  return [
    `Budget ${formatBytes(b.maxBytes)}: revisions hold ${formatBytes(b.bytesBefore)} now, ${formatBytes(b.bytesAfter)} after this plan` +
      (b.met ? ' (within budget)' : ' (OVER budget: cannot be met without removing pinned revisions)'),
  ];
}

function noteLines(plan: Plan): string[] {
  return plan.notes.map((n) => `note: ${n}`);
}

function resultLines(params: { plan: Plan; result: ExecuteResult }): string[] {
  const { plan, result } = params;
  const lines: string[] = [];
  for (const step of result.skipped) lines.push(`kept    ${step.item.path}\n        ${step.detail ?? ''}`);
  for (const step of result.failed) lines.push(`FAILED  ${step.item.path}\n        ${step.detail ?? ''}`);
  lines.push(
    `Removed ${result.removed} of ${plan.totals.items} item(s), freed ${formatBytes(result.bytesFreed)} (planned ${formatBytes(plan.totals.bytes)})` +
      (result.missing > 0 ? `; ${result.missing} already gone` : '') +
      (result.skipped.length > 0 ? `; ${result.skipped.length} kept (each with its reason above)` : '') +
      (result.failed.length > 0 ? `; ${result.failed.length} FAILED (see above; \`hubcache doctor\` explains permission problems)` : ''),
  );
  return lines;
}

interface ItemGroup {
  what: string;
  counts: string;
  bytes: number;
  reason: string;
}

const KIND_WORDS: Record<PlanItemKind, string> = {
  ref: 'ref',
  link: 'link',
  file: 'file',
  noExist: 'marker dir',
  tree: 'listing',
  blob: 'blob',
  partial: 'partial',
  temp: 'temp file',
  relink: 'relinked link',
  folder: 'folder',
};

/**
 * One row per removed revision (its refs, links, blobs and folders together),
 * and one per (repo, reason) for the rest: a plan of 10,000 paths still reads
 * in a screen.
 */
function groupItems(params: { plan: Plan }): ItemGroup[] {
  const groups = new Map<string, { items: PlanItem[]; repo: string | undefined; revision: string | undefined; reason: string }>();
  const revisionReasons = new Map(params.plan.revisions.map((r) => [`${r.repo}/${r.commit}`, r.reason]));
  for (const item of params.plan.items) {
    const revisionReason = item.revision !== undefined ? revisionReasons.get(`${item.repo}/${item.revision}`) : undefined;
    // Reasons that name a single blob's owners would make one row per blob.
    const reason = revisionReason ?? (item.kind === 'blob' && item.reason.startsWith('only ') ? 'no kept revision links to it' : item.reason);
    const key = `${item.repo ?? ''}\0${item.revision ?? ''}\0${reason}`;
    let group = groups.get(key);
    if (!group) {
      group = { items: [], repo: item.repo, revision: item.revision, reason };
      groups.set(key, group);
    }
    group.items.push(item);
  }
  const refsOf = new Map(params.plan.revisions.map((r) => [`${r.repo}/${r.commit}`, r.refs]));
  return [...groups.values()].map((g) => {
    const parsed = g.repo ? parseRepoFolderName({ name: g.repo }) : undefined;
    const repoLabel = parsed ? formatRepoRef(parsed) : (g.repo ?? '(cache root)');
    const refs = g.revision && g.repo ? (refsOf.get(`${g.repo}/${g.revision}`) ?? []) : [];
    const what = g.revision ? `${repoLabel} @ ${g.revision.slice(0, 12)}${refs.length > 0 ? ` (${refs.join(', ')})` : ''}` : repoLabel;
    const counts = new Map<PlanItemKind, number>();
    for (const item of g.items) counts.set(item.kind, (counts.get(item.kind) ?? 0) + 1);
    return {
      what,
      counts: [...counts].map(([kind, n]) => `${n} ${KIND_WORDS[kind]}${n === 1 ? '' : 's'}`).join(', '),
      bytes: g.items.reduce((s, i) => s + i.bytes, 0),
      reason: g.reason,
    };
  });
}
