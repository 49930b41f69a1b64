// @ts-check
/** A prune or evict plan to review: what goes, what it frees, the budget, and the confirm button. */
import { byId, bytes, count, fill, h, short, table } from './dom.js';
import { api, state } from './state.js';

/**
 * Draws `state.plan` (or clears the panel).
 * @param {{ act: (fn: () => Promise<void>) => Promise<void>; message: (text: string, cls?: 'ok' | 'bad' | '') => void }} params
 */
export function renderPlan(params) {
  const review = state.plan;
  if (!review) {
    fill(byId('plan'));
    return;
  }
  const plan = review.plan;
  const confirm = h('button.danger', { type: 'button', id: 'plan-confirm' }, plan.totals.items === 0 ? 'Nothing to remove' : `Confirm: remove ${count(plan.totals.items)} item(s), free ${bytes(plan.totals.bytes)}`);
  /** @type {HTMLButtonElement} */ (confirm).disabled = plan.totals.items === 0;
  const cancel = h('button', { type: 'button' }, 'Cancel');
  confirm.addEventListener('click', () =>
    params.act(async () => {
      const result = await api('actions/confirm', { method: 'POST', body: JSON.stringify({ planId: review.id }) });
      state.plan = null;
      renderPlan(params);
      params.message(
        `removed ${result.removed} item(s), freed ${bytes(result.bytesFreed)}${result.skipped.length ? `, ${result.skipped.length} kept` : ''}${result.failed.length ? `, ${result.failed.length} FAILED` : ''}`,
        result.failed.length ? 'bad' : 'ok',
      );
    }),
  );
  cancel.addEventListener('click', () => {
    state.plan = null;
    renderPlan(params);
    params.message('');
  });
  const b = plan.budget;
  fill(
    byId('plan'),
    h(
      'div.plan',
      { 'data-plan': review.id },
      h('div.plan-head', null, h('strong', null, `${review.command} plan`), ` by ${review.who}: ${count(plan.totals.items)} item(s) in ${plan.revisions.length} revision(s), frees ${bytes(plan.totals.bytes)}`),
      review.planning ? h('div.dim', null, `planned in ${(review.planning.ms / 1000).toFixed(1)} s on the server's ${review.planning.thread === 'worker' ? 'worker' : 'main'} thread`) : null,
      b ? h('div', null, `Budget ${bytes(b.maxBytes)}: ${bytes(b.bytesBefore)} now, ${bytes(b.bytesAfter)} after`, h(`span.pill.${b.met ? 'ok' : 'bad'}`, null, b.met ? 'within budget' : 'cannot be met (pinned revisions)')) : null,
      plan.revisions.length
        ? table(
            ['Revision', 'Refs', 'Frees', 'Why'],
            plan.revisions.map((/** @type {any} */ r) => [h('span.mono', null, `${r.repo.replace(/^(model|dataset|space)s--/, '').replace(/--/g, '/')} @ ${short(r.commit)}`), r.refs.join(', ') || '-', bytes(r.bytes), r.reason]),
          )
        : null,
      plan.itemCount > plan.revisions.length
        ? h('details', null, h('summary', null, `${count(plan.itemCount)} path(s)`), h('ul.paths', null, plan.items.map((/** @type {any} */ i) => h('li.mono', null, `${i.kind} ${i.path} (${bytes(i.bytes)}) - ${i.reason}`))))
        : null,
      plan.notes.map((/** @type {string} */ n) => h('div.note', null, `note: ${n}`)),
      h('div.plan-buttons', null, confirm, cancel),
    ),
  );
}
