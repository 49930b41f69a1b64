// @ts-check
/**
 * The admin side: the token box, the action buttons (sync, verify, plan prune/evict), the
 * message line and the action log. Without an accepted token every button stays disabled
 * (the server refuses anyway).
 */
import { ago, byId, fill, h, table } from './dom.js';
import { renderPlan } from './planView.js';
import { api, state } from './state.js';

/** Set by wireActions: the page's poll, run after every action. */
let refresh = () => undefined;

/** @param {string | null} label */
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
    refresh();
  }
}

/** @param {'prune' | 'evict'} command */
function planAction(command) {
  return act(async () => {
    message(`planning ${command}...`);
    const maxSize = /** @type {HTMLInputElement} */ (byId('evict-size')).value.trim();
    state.plan = await api('actions/plan', { method: 'POST', body: JSON.stringify({ command, ...(command === 'evict' && maxSize ? { maxSize } : {}) }) });
    message(`review the ${command} plan below, then confirm`, 'ok');
    renderPlan({ act, message });
  });
}

export function renderActionLog() {
  const log = state.overview.actions;
  fill(
    byId('action-log'),
    log.length === 0
      ? h('div.empty', null, 'No action yet.')
      : table(
          ['When', 'Who', 'Action', 'State', 'What'],
          log.map((/** @type {any} */ a) => [ago(Date.parse(a.time), state.overview.now), a.who, a.action, h(`span.pill.${a.state === 'done' ? 'ok' : a.state === 'running' ? 'info' : 'bad'}`, null, a.state), a.summary]),
        ),
  );
}

/** Asks the server whose token the pasted one is. @param {boolean} tell say so when it is refused */
export async function checkToken(tell) {
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
  if (tell) refresh();
}

/** @param {{ refresh: () => void }} params */
export function wireActions(params) {
  refresh = () => {
    params.refresh();
    return undefined;
  };
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
}
