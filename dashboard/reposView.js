// @ts-check
/** The repos table, one page at a time (50 rows, whatever the cache's size), with filter, sort and pager. */
import { ago, byId, bytes, count, fill, h, short, table } from './dom.js';
import { api, state } from './state.js';

export const PAGE = 50;

export function renderRepos() {
  const page = state.repos;
  if (!page) return;
  // The first view's end, for the page's own timing (the large-cache test reads it).
  if (performance.getEntriesByName('hubcache-first-repos').length === 0) performance.mark('hubcache-first-repos');
  fill(byId('repos-note'), `${count(page.matching)}${page.matching !== page.total ? ` of ${count(page.total)}` : ''}`);
  const now = state.overview?.now ?? Date.now();
  fill(
    byId('repos'),
    page.rows.length === 0
      ? h('div.empty', null, page.total === 0 ? 'No repo in the cache yet.' : 'No repo matches.')
      : table(
          ['Repo', 'Size', 'Revisions', 'Files', 'Last used', 'Partial', 'Problems'],
          page.rows.map((/** @type {any} */ r) => [
            h('div', { 'data-repo': r.id }, h('span.mono.repo', null, r.id), r.services.length ? h('div.tags', null, r.services.map((/** @type {string} */ s) => h('span.tag', null, s))) : null),
            h('span.num', null, bytes(r.sizeOnDisk)),
            h(
              'div.revs',
              null,
              r.revisions.map((/** @type {any} */ v) =>
                h('div', null, h('span.mono', { title: v.commit }, short(v.commit)), ' ', v.refs.length ? v.refs.map((/** @type {string} */ ref) => h('span.ref', null, ref)) : h('span.dim', null, 'no ref'), h('span.dim', null, ` ${count(v.nbFiles)} file${v.nbFiles === 1 ? '' : 's'}`)),
              ),
            ),
            h('span.num', null, count(r.nbFiles)),
            ago(r.lastAccessed, now),
            r.incomplete.count ? h('span.pill.warn', { title: bytes(r.incomplete.bytes) }, `${r.incomplete.count} (${bytes(r.incomplete.bytes)})`) : h('span.dim', null, '-'),
            r.problemCount ? h('span.pill.bad', { title: r.problems.map((/** @type {any} */ p) => `${p.code}: ${p.message} (${p.path})`).join('\n') }, `${r.problemCount} ${r.problems[0]?.code ?? ''}`) : h('span.dim', null, '-'),
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
let reposKey = '';

/** Loads the current page of repos; a call while one loads for the same view waits for it. */
export function loadRepos() {
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

export function wireRepoTools() {
  let typing = 0;
  byId('repo-filter').addEventListener('input', (event) => {
    clearTimeout(typing);
    const q = /** @type {HTMLInputElement} */ (event.target).value;
    typing = window.setTimeout(() => setView({ q, offset: 0 }), 200);
  });
  byId('repo-sort').addEventListener('change', (event) => setView({ sort: /** @type {HTMLSelectElement} */ (event.target).value, offset: 0 }));
}
