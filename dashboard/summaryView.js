// @ts-check
/** The header (where, live state) and the cards: cache size against the disk and the budget, repos, problems, hit rate. */
import { ago, byId, bytes, count, fill, h, percent } from './dom.js';
import { gauge } from './charts.js';
import { state } from './state.js';

export function renderHeader() {
  const o = state.overview;
  fill(byId('where'), h('span.mono', { title: 'cache folder' }, o.cacheDir), h('span.sep', null, '<-'), h('span.mono', { title: 'upstream' }, o.offline ? 'offline' : o.upstream));
  const scan = o.scan;
  fill(byId('live-text'), scan.finishedAt ? `live - scanned ${ago(scan.finishedAt, o.now)} in ${scan.ms} ms${scan.scanning ? ', rescanning' : ''}` : 'scanning the cache...');
  byId('live').classList.toggle('ok', true);
  byId('live').classList.toggle('down', false);
}

/** @param {string} label @param {string} value @param {string} [sub] @param {string} [cls] */
function card(label, value, sub, cls = '') {
  return h(`div.card${cls ? `.${cls}` : ''}`, null, h('div.card-label', null, label), h('div.card-value', null, value), sub ? h('div.card-sub', null, sub) : null);
}

function sizeCard() {
  const o = state.overview;
  const size = o.scan.sizeOnDisk;
  const disk = o.disk;
  const budget = o.budget;
  const overBudget = budget && size > budget.maxBytes;
  const meter = (/** @type {string} */ label, /** @type {number} */ whole, /** @type {Array<{ value: number; cls: string; label: string }>} */ segments, /** @type {string} */ note) =>
    h('div.meter', null, h('div.meter-label', null, label), gauge({ used: size, total: whole, marks: [], segments }), h('div.meter-note', null, note));
  return h(
    'div.card.wide',
    null,
    h('div.card-label', null, 'Cache size'),
    h('div.card-value', null, bytes(size), budget ? h(`span.pill.${overBudget ? 'bad' : 'ok'}`, null, overBudget ? `over budget by ${bytes(size - budget.maxBytes)}` : 'within budget') : null),
    budget
      ? meter('budget', Math.max(budget.maxBytes, size), [{ value: size, cls: overBudget ? 'over' : 'cache', label: `cache ${bytes(size)}` }], `${percent(size, budget.maxBytes)} of ${bytes(budget.maxBytes)} (${budget.source})`)
      : h('div.meter-note', null, 'no eviction budget (serve --budget SIZE)'),
    disk
      ? meter(
          'disk',
          disk.totalBytes,
          [
            { value: size, cls: 'cache', label: `cache ${bytes(size)}` },
            { value: Math.max(0, disk.usedBytes - size), cls: 'other', label: `other files ${bytes(Math.max(0, disk.usedBytes - size))}` },
          ],
          `${percent(size, disk.totalBytes)} of ${bytes(disk.totalBytes)} - ${bytes(disk.freeBytes)} free`,
        )
      : h('div.meter-note', null, 'disk size unknown'),
  );
}

export function renderCards() {
  const o = state.overview;
  const traffic = o.traffic[o.traffic.length - 1] ?? { hits: 0, misses: 0, servedBytes: 0, upstreamBytes: 0 };
  const asked = traffic.hits + traffic.misses;
  const problems = o.scan.problems + (o.doctor.count ?? 0);
  fill(
    byId('cards'),
    sizeCard(),
    card('Repos', count(o.scan.repos), `${count(o.scan.revisions)} revisions - ${count(o.scan.files)} files`),
    card('Incomplete downloads', count(o.scan.incomplete.count), o.scan.incomplete.count ? `${bytes(o.scan.incomplete.bytes)} in partial files` : 'none', o.scan.incomplete.count ? 'warn' : ''),
    card('Problems', count(problems), `${o.scan.problems} from the scan - ${o.doctor.count ?? 0} from doctor`, problems ? 'warn' : ''),
    card('Mirror hit rate', asked ? percent(traffic.hits, asked) : '-', `${count(traffic.hits)} hits - ${count(traffic.misses)} misses - ${bytes(traffic.servedBytes)} served, ${bytes(traffic.upstreamBytes)} fetched`),
  );
}
