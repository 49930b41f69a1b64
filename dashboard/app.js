// @ts-check
/**
 * The dashboard: polls `/api/hubcache/overview` every 2 s (and the current repos page when the
 * scan moved or the view changed) and redraws the views in place; no reload, no framework.
 * One module per view (summaryView, chartsView, fillsView, servicesView, reposView, healthView,
 * actionsView, planView); state.js holds what the page knows, dom.js and charts.js draw.
 */
import { byId, fill } from './dom.js';
import { checkToken, renderActionLog, wireActions } from './actionsView.js';
import { renderCharts } from './chartsView.js';
import { renderFills } from './fillsView.js';
import { renderHealth } from './healthView.js';
import { loadRepos, wireRepoTools } from './reposView.js';
import { renderServices } from './servicesView.js';
import { state, api } from './state.js';
import { renderCards, renderHeader } from './summaryView.js';

const POLL_MS = 2000;

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

wireActions({ refresh: () => void poll() });
wireRepoTools();
// The first view asks for the overview and the first page of repos at once.
await Promise.all([poll(), loadRepos().catch(() => undefined)]);
await checkToken(false);
setInterval(() => void poll(), POLL_MS);
