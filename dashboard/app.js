// @ts-check
/**
 * The dashboard: polls `/api/hubcache/overview` every 2 s (and the current repos page when the
 * scan moved or the view changed) and redraws the parts in place; no reload, no framework.
 * Actions send the admin token the user pasted (kept in sessionStorage, this tab only).
 */
import { ago, byId, bytes, count, fill, h, percent, short } from './dom.js';
import { barChart, gauge, trafficChart } from './charts.js';

const POLL_MS = 2000;
const PAGE = 50;

/** @type {{ overview: any; repos: any; view: { offset: number; sort: string; q: string }; generation: number; token: string; admin: string | null; plan: any; busy: boolean }} */
const state = {
  overview: null,
  repos: null,
  view: { offset: 0, sort: 'size', q: '' },
  generation: -1,
  token: sessionStorage.getItem('hubcache-admin-token') ?? '',
  admin: null,
  plan: null,
  busy: false,
};

/** @param {string} path @param {RequestInit} [init] */
async function api(path, init = {}) {
  const headers = /** @type {Record<string, string>} */ ({ ...(init.headers ?? {}) });
  if (state.token) headers.authorization = `Bearer ${state.token}`;
  if (init.body) headers['content-type'] = 'application/json';
  const res = await fetch(`/api/hubcache/${path}`, { ...init, headers });
  const value = await res.json().catch(() => ({}));
  if (!res.ok) throw Object.assign(new Error(value.error ?? `HTTP ${res.status}`), { status: res.status });
  return value;
}

// ---------------------------------------------------------------- overview

function renderHeader() {
  const o = state.overview;
  fill(byId('where'), h('span.mono', { title: 'cache folder' }, o.cacheDir), h('span.sep', null, '<-'), h('span.mono', { title: 'upstream' }, o.offline ? 'offline' : o.upstream));
  const scan = o.scan;
  fill(byId('live-text'), scan.finishedAt ? `live - scanned ${ago(scan.finishedAt, o.now)} in ${scan.ms} ms${scan.scanning ? ', rescanning' : ''}` : 'scanning the cache...');
  byId('live').classList.toggle('ok', true);
  byId('live').classList.toggle('down', false);
}

function card(label, value, sub, cls = '') {
  return h(`div.card${cls ? `.${cls}` : ''}`, null, h('div.card-label', null, label), h('div.card-value', null, value), sub ? h('div.card-sub', null, sub) : null);
}

function renderCards() {
  const o = state.overview;
  const size = o.scan.sizeOnDisk;
  const disk = o.disk;
  const budget = o.budget;
  const sizeCard = h('div.card.wide');
  const overBudget = budget && size > budget.maxBytes;
  const meter = (/** @type {string} */ label, /** @type {number} */ whole, /** @type {Array<{ value: number; cls: string; label: string }>} */ segments, /** @type {string} */ note) =>
    h('div.meter', null, h('div.meter-label', null, label), gauge({ used: size, total: whole, marks: [], segments }), h('div.meter-note', null, note));
  fill(
    sizeCard,
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
  const traffic = o.traffic[o.traffic.length - 1] ?? { hits: 0, misses: 0, servedBytes: 0, upstreamBytes: 0 };
  const asked = traffic.hits + traffic.misses;
  fill(
    byId('cards'),
    sizeCard,
    card('Repos', count(o.scan.repos), `${count(o.scan.revisions)} revisions - ${count(o.scan.files)} files`),
    card('Incomplete downloads', count(o.scan.incomplete.count), o.scan.incomplete.count ? `${bytes(o.scan.incomplete.bytes)} in partial files` : 'none', o.scan.incomplete.count ? 'warn' : ''),
    card('Problems', count(o.scan.problems + (o.doctor.count ?? 0)), `${o.scan.problems} from the scan - ${o.doctor.count ?? 0} from doctor`, o.scan.problems + (o.doctor.count ?? 0) ? 'warn' : ''),
    card('Mirror hit rate', asked ? percent(traffic.hits, asked) : '-', `${count(traffic.hits)} hits - ${count(traffic.misses)} misses - ${bytes(traffic.servedBytes)} served, ${bytes(traffic.upstreamBytes)} fetched`),
  );
}

function renderCharts() {
  const o = state.overview;
  fill(byId('chart-repos'), barChart({ rows: o.topRepos.map((r) => ({ label: r.id, value: r.sizeOnDisk })), empty: 'The cache is empty.' }));
  fill(
    byId('chart-services'),
    o.services.length
      ? barChart({ rows: o.services.map((s) => ({ label: s.name, value: s.sizeOnDisk, note: s.repos.join(', ') })), empty: 'No service has cached models yet.' })
      : h('div.empty', null, o.manifestError ? `Manifest error: ${o.manifestError}` : 'No manifest (serve --manifest hubcache.yaml).'),
  );
  fill(byId('chart-traffic'), trafficChart({ samples: o.traffic }), h('div.legend', null, h('span.key.served', null, 'served to clients'), h('span.key.upstream', null, 'fetched upstream')));
}

function renderFills() {
  const fills = state.overview.fills;
  fill(
    byId('fills'),
    fills.length === 0
      ? h('div.empty', null, 'No transfer from upstream right now.')
      : table(
          ['File', 'Progress', 'Rate', 'Started'],
          fills.map((f) => {
            const bar = h('div.progress-fill');
            bar.style.width = `${f.size ? (100 * f.written) / f.size : 0}%`;
            return [
              h('span', null, h('span.mono', null, f.repo.replace(/^models--/, '').replace(/--/g, '/')), ' ', h('span.mono.dim', null, f.path)),
              h('div.progress', { title: `${bytes(f.written)} of ${bytes(f.size)}` }, bar, h('span.progress-text', null, `${bytes(f.written)} / ${bytes(f.size)} (${percent(f.written, f.size)})`)),
              `${bytes(f.bytesPerSecond)}/s`,
              ago(f.startedAt, state.overview.now),
            ];
          }),
        ),
  );
}

function renderServices() {
  const o = state.overview;
  fill(byId('manifest-note'), o.manifest ? o.manifest.path : '');
  if (!o.manifest) {
    fill(byId('services'), h('div.empty', null, o.manifestError ? `Manifest error: ${o.manifestError}` : 'No manifest: start serve with --manifest hubcache.yaml to see which service uses what.'));
    return;
  }
  fill(
    byId('services'),
    h(
      'div.services',
      null,
      o.services.map((s) =>
        h(
          'div.service',
          { 'data-service': s.name },
          h('div.service-head', null, h('span.service-name', null, s.name), h(`span.pill.${s.ok ? 'ok' : 'bad'}`, null, s.ok ? 'all links resolve' : 'needs sync'), h('span.dim', null, bytes(s.sizeOnDisk))),
          table(
            ['Link', 'Model', 'Revision', 'State'],
            s.links.map((l) => [
              h('span', null, h('span.mono', null, l.name), l.env ? h('span.dim', null, ` $${l.env}`) : null),
              h('span.mono', null, l.repo),
              h('span.mono', { title: l.commit ?? '' }, `${l.revision}${l.commit ? ` -> ${short(l.commit)}` : ''}`),
              h(`span.pill.${l.state === 'ok' ? 'ok' : l.state === 'behind' ? 'warn' : 'bad'}`, { title: l.message }, l.state === 'ok' ? 'resolves' : l.state),
            ]),
          ),
        ),
      ),
    ),
  );
}

function renderHealth() {
  const o = state.overview;
  const d = o.doctor;
  fill(byId('doctor-note'), d.running ? 'running...' : d.finishedAt ? `ran ${ago(d.finishedAt, o.now)}` : 'not run yet');
  /** @type {Map<string, any[]>} */
  const byCode = new Map();
  for (const f of d.findings) byCode.set(f.code, [...(byCode.get(f.code) ?? []), f]);
  fill(
    byId('doctor'),
    d.error
      ? h('div.error', null, d.error)
      : d.findings.length === 0
        ? h('div.good', null, d.finishedAt ? 'No findings: the cache is fit to be shared.' : 'Waiting for the first run.')
        : h(
            'ul.findings',
            null,
            [...byCode].map(([code, list]) =>
              h(
                'li',
                null,
                h('span.pill.warn', null, `${code} x${list.length}`),
                ' ',
                h('span.dim', null, list[0].why),
                h('div.mono.fix', { title: list.map((f) => f.path).join('\n') }, list[0].fix, list.length > 1 ? h('span.dim', null, `  (+${list.length - 1} more paths)`) : null),
              ),
            ),
            d.count > d.findings.length ? h('li.dim', null, `${d.count} findings in all: \`hubcache doctor\` lists them, \`hubcache doctor --fix\` applies the fixes`) : null,
          ),
  );
  const v = o.verify;
  fill(
    byId('verify'),
    !v
      ? h('div.empty', null, 'Never verified. Run `hubcache verify` (or Verify below).')
      : h(
          'div',
          null,
          h('div', null, h(`span.pill.${v.ok ? 'ok' : 'bad'}`, null, v.ok ? 'clean' : 'damage found'), ` ${ago(Date.parse(v.finishedAt), o.now)} - ${count(v.blobsChecked)} blobs, ${bytes(v.bytesHashed)} hashed in ${(v.ms / 1000).toFixed(1)} s${v.repos ? ` (${v.repos.length} repo(s))` : ''}`),
          v.findings.length
            ? h(
                'ul.findings',
                null,
                v.findings.slice(0, 10).map((f) => h('li', null, h(`span.pill.${f.severity === 'error' ? 'bad' : 'warn'}`, null, f.code), ' ', h('span.mono', null, f.path), h('div.dim', null, f.message))),
              )
            : null,
        ),
  );
}

function renderActionLog() {
  const log = state.overview.actions;
  fill(
    byId('action-log'),
    log.length === 0
      ? h('div.empty', null, 'No action yet.')
      : table(
          ['When', 'Who', 'Action', 'State', 'What'],
          log.map((a) => [ago(Date.parse(a.time), state.overview.now), a.who, a.action, h(`span.pill.${a.state === 'done' ? 'ok' : a.state === 'running' ? 'info' : 'bad'}`, null, a.state), a.summary]),
        ),
  );
}

// ---------------------------------------------------------------- repos

function renderRepos() {
  const page = state.repos;
  if (!page) return;
  fill(byId('repos-note'), `${count(page.matching)}${page.matching !== page.total ? ` of ${count(page.total)}` : ''}`);
  const now = state.overview?.now ?? Date.now();
  fill(
    byId('repos'),
    page.rows.length === 0
      ? h('div.empty', null, page.total === 0 ? 'No repo in the cache yet.' : 'No repo matches.')
      : table(
          ['Repo', 'Size', 'Revisions', 'Files', 'Last used', 'Partial', 'Problems'],
          page.rows.map((r) => [
            h('div', { 'data-repo': r.id }, h('span.mono.repo', null, r.id), r.services.length ? h('div.tags', null, r.services.map((s) => h('span.tag', null, s))) : null),
            h('span.num', null, bytes(r.sizeOnDisk)),
            h(
              'div.revs',
              null,
              r.revisions.map((v) => h('div', null, h('span.mono', { title: v.commit }, short(v.commit)), ' ', v.refs.length ? v.refs.map((ref) => h('span.ref', null, ref)) : h('span.dim', null, 'no ref'), h('span.dim', null, ` ${count(v.nbFiles)} file${v.nbFiles === 1 ? '' : 's'}`))),
            ),
            h('span.num', null, count(r.nbFiles)),
            ago(r.lastAccessed, now),
            r.incomplete.count ? h('span.pill.warn', { title: bytes(r.incomplete.bytes) }, `${r.incomplete.count} (${bytes(r.incomplete.bytes)})`) : h('span.dim', null, '-'),
            r.problemCount ? h('span.pill.bad', { title: r.problems.map((p) => `${p.code}: ${p.message} (${p.path})`).join('\n') }, `${r.problemCount} ${r.problems[0]?.code ?? ''}`) : h('span.dim', null, '-'),
          ]),
          ['', 'num', '', 'num', '', '', ''],
        ),
  );
  const pages = Math.max(1, Math.ceil(page.matching / PAGE));
  const current = Math.floor(page.offset / PAGE) + 1;
  const prev = h('button', { type: 'button' }, 'Previous');
  const next = h('button', { type: 'button' }, 'Next');
  /** @type {HTMLButtonElement} */ (prev).disabled = current <= 1;
  /** @type {HTMLButtonElement} */ (next).disabled = current >= pages;
  prev.addEventListener('click', () => setView({ offset: Math.max(0, page.offset - PAGE) }));
  next.addEventListener('click', () => setView({ offset: page.offset + PAGE }));
  fill(byId('pager'), prev, h('span.dim', null, `page ${current} of ${pages}`), next);
}

/** @param {Partial<typeof state.view>} change */
function setView(change) {
  state.view = { ...state.view, ...change };
  void loadRepos();
}

/** @type {Promise<void> | null} */
let reposLoading = null;

/** Loads the current page of repos; a call while one loads for the same view waits for it. */
function loadRepos() {
  const v = state.view;
  const q = new URLSearchParams({ offset: String(v.offset), limit: String(PAGE), sort: v.sort, q: v.q });
  const key = q.toString();
  if (reposLoading && reposKey === key) return reposLoading;
  reposKey = key;
  const loading = api(`repos?${q}`).then((page) => {
    // A newer view's answer may have come first.
    if (reposKey !== key) return;
    state.repos = page;
    state.generation = page.generation;
    renderRepos();
  });
  reposLoading = loading.finally(() => {
    if (reposLoading === guarded) reposLoading = null;
  });
  const guarded = reposLoading;
  return reposLoading;
}
let reposKey = '';

// ---------------------------------------------------------------- actions

function setAdmin(label) {
  state.admin = label;
  const o = state.overview;
  // Before a first overview (a dashboard that needs a token to read) the token box stays open.
  const enabled = o ? o.admin : true;
  const badge = byId('admin-state');
  badge.textContent = label ? `admin: ${label}` : enabled ? 'read-only (paste an admin token)' : 'read-only';
  badge.className = `badge ${label ? 'ok' : ''}`;
  byId('admin-form').classList.toggle('hidden-input', Boolean(label) || !enabled);
  for (const el of document.querySelectorAll('[data-admin]')) /** @type {HTMLButtonElement} */ (el).disabled = !label || state.busy;
}

/** @param {string} text @param {'ok' | 'bad' | ''} [cls] */
function message(text, cls = '') {
  const el = byId('action-msg');
  el.textContent = text;
  el.className = `msg ${cls}`;
}

/** @param {() => Promise<void>} fn */
async function act(fn) {
  state.busy = true;
  setAdmin(state.admin);
  try {
    await fn();
  } catch (err) {
    message(/** @type {Error} */ (err).message, 'bad');
  } finally {
    state.busy = false;
    setAdmin(state.admin);
    void poll();
  }
}

/** @param {'prune' | 'evict'} command */
function planAction(command) {
  return act(async () => {
    message(`planning ${command}...`);
    const maxSize = /** @type {HTMLInputElement} */ (byId('evict-size')).value.trim();
    state.plan = await api('actions/plan', { method: 'POST', body: JSON.stringify({ command, ...(command === 'evict' && maxSize ? { maxSize } : {}) }) });
    message(`review the ${command} plan below, then confirm`, 'ok');
    renderPlan();
  });
}

function renderPlan() {
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
    act(async () => {
      const result = await api('actions/confirm', { method: 'POST', body: JSON.stringify({ planId: review.id }) });
      state.plan = null;
      renderPlan();
      message(`removed ${result.removed} item(s), freed ${bytes(result.bytesFreed)}${result.skipped.length ? `, ${result.skipped.length} kept` : ''}${result.failed.length ? `, ${result.failed.length} FAILED` : ''}`, result.failed.length ? 'bad' : 'ok');
    }),
  );
  cancel.addEventListener('click', () => {
    state.plan = null;
    renderPlan();
    message('');
  });
  const b = plan.budget;
  fill(
    byId('plan'),
    h(
      'div.plan',
      { 'data-plan': review.id },
      h('div.plan-head', null, h('strong', null, `${review.command} plan`), ` by ${review.who}: ${count(plan.totals.items)} item(s) in ${plan.revisions.length} revision(s), frees ${bytes(plan.totals.bytes)}`),
      b ? h('div', null, `Budget ${bytes(b.maxBytes)}: ${bytes(b.bytesBefore)} now, ${bytes(b.bytesAfter)} after`, h(`span.pill.${b.met ? 'ok' : 'bad'}`, null, b.met ? 'within budget' : 'cannot be met (pinned revisions)')) : null,
      plan.revisions.length
        ? table(
            ['Revision', 'Refs', 'Frees', 'Why'],
            plan.revisions.map((r) => [h('span.mono', null, `${r.repo.replace(/^(model|dataset|space)s--/, '').replace(/--/g, '/')} @ ${short(r.commit)}`), r.refs.join(', ') || '-', bytes(r.bytes), r.reason]),
          )
        : null,
      plan.itemCount > plan.revisions.length
        ? h('details', null, h('summary', null, `${count(plan.itemCount)} path(s)`), h('ul.paths', null, plan.items.map((i) => h('li.mono', null, `${i.kind} ${i.path} (${bytes(i.bytes)}) - ${i.reason}`))))
        : null,
      plan.notes.map((n) => h('div.note', null, `note: ${n}`)),
      h('div.plan-buttons', null, confirm, cancel),
    ),
  );
}

function wireActions() {
  byId('admin-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const input = /** @type {HTMLInputElement} */ (byId('admin-token'));
    state.token = input.value.trim();
    input.value = '';
    void checkToken(true);
  });
  byId('act-sync').addEventListener('click', () =>
    act(async () => {
      await api('actions/sync', { method: 'POST', body: '{}' });
      message('sync started: see the action log', 'ok');
    }),
  );
  byId('act-verify').addEventListener('click', () =>
    act(async () => {
      await api('actions/verify', { method: 'POST', body: '{}' });
      message('verify started: see the action log', 'ok');
    }),
  );
  byId('act-prune').addEventListener('click', () => planAction('prune'));
  byId('act-evict').addEventListener('click', () => planAction('evict'));
  let typing = 0;
  byId('repo-filter').addEventListener('input', (event) => {
    clearTimeout(typing);
    const q = /** @type {HTMLInputElement} */ (event.target).value;
    typing = window.setTimeout(() => setView({ q, offset: 0 }), 200);
  });
  byId('repo-sort').addEventListener('change', (event) => setView({ sort: /** @type {HTMLSelectElement} */ (event.target).value, offset: 0 }));
}

/** @param {boolean} tell */
async function checkToken(tell) {
  if (!state.token) {
    setAdmin(null);
    return;
  }
  const who = await api('whoami').catch(() => ({ admin: null }));
  if (who.admin) sessionStorage.setItem('hubcache-admin-token', state.token);
  else {
    sessionStorage.removeItem('hubcache-admin-token');
    state.token = '';
    if (tell) message('that admin token was refused', 'bad');
  }
  setAdmin(who.admin);
  if (tell) void poll();
}

// ---------------------------------------------------------------- loop

/** @param {string[]} headers @param {Array<Array<unknown>>} rows @param {string[]} [classes] */
function table(headers, rows, classes = []) {
  return h(
    'table',
    null,
    h('thead', null, h('tr', null, headers.map((t, i) => h(`th${classes[i] ? `.${classes[i]}` : ''}`, null, t)))),
    h('tbody', null, rows.map((cells) => h('tr', null, cells.map((c, i) => h(`td${classes[i] ? `.${classes[i]}` : ''}`, null, /** @type {any} */ (c)))))),
  );
}

let polling = false;
async function poll() {
  if (polling) return;
  polling = true;
  try {
    state.overview = await api('overview');
    renderHeader();
    renderCards();
    renderCharts();
    renderFills();
    renderServices();
    renderHealth();
    renderActionLog();
    if (state.overview.scan.generation !== state.generation) await loadRepos();
    document.body.dataset.generation = String(state.overview.scan.generation);
  } catch (err) {
    byId('live').classList.toggle('down', true);
    const status = /** @type {{ status?: number }} */ (err).status;
    fill(byId('live-text'), status === 401 ? 'paste an admin token to see this cache' : `disconnected: ${/** @type {Error} */ (err).message}`);
  } finally {
    polling = false;
  }
}

wireActions();
// The first view asks for the overview and the first page of repos at once.
await Promise.all([poll(), loadRepos().catch(() => undefined)]);
await checkToken(false);
setInterval(() => void poll(), POLL_MS);
