// @ts-check
/**
 * Small DOM helpers: elements are built with text nodes only (never innerHTML), so a repo or
 * file name can never inject markup; the page's CSP forbids inline scripts and styles anyway.
 */

/**
 * @param {string} tag `div`, `td.num`, `span.badge.ok` (classes after dots)
 * @param {Record<string, string | number | boolean | undefined> | null} [attrs]
 * @param {...(Node | string | number | null | undefined | false | Array<Node | string | null | undefined | false>)} children
 * @returns {HTMLElement}
 */
export function h(tag, attrs, ...children) {
  const [name, ...classes] = tag.split('.');
  const el = document.createElement(name || 'div');
  if (classes.length > 0) el.className = classes.join(' ');
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === false) continue;
    if (key === 'title' || key === 'id' || key.startsWith('data-') || key.startsWith('aria-') || key === 'type' || key === 'value' || key === 'placeholder' || key === 'colspan') el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

/** @param {Element} el @param {Array<unknown>} children */
function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

/** Replaces an element's content. @param {Element | null} el @param {...unknown} children */
export function fill(el, ...children) {
  if (!el) return;
  el.replaceChildren();
  append(el, children);
}

/** @param {string} id @returns {HTMLElement} */
export function byId(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} missing`);
  return el;
}

const UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];

/** Decimal units, as `hubcache ls` and `hf cache ls` print them. @param {number} bytes */
export function bytes(bytes) {
  if (!Number.isFinite(bytes)) return '?';
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(value >= 100 ? 0 : 1)} ${UNITS[unit]}`;
}

/** @param {number | undefined | null} ms @param {number} [now] */
export function ago(ms, now = Date.now()) {
  if (!ms) return 'never';
  const s = Math.round((now - ms) / 1000);
  if (s < 5) return 'just now';
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} days ago`;
}

/** @param {number} n */
export function count(n) {
  return n.toLocaleString('en-US');
}

/** @param {string} commit */
export function short(commit) {
  return commit ? commit.slice(0, 10) : '';
}

/** @param {number} part @param {number} whole */
export function percent(part, whole) {
  if (!(whole > 0)) return '-';
  const ratio = part / whole;
  return ratio === 0 ? '0%' : `${(100 * ratio).toFixed(ratio < 0.1 ? 1 : 0)}%`;
}

/**
 * A table of cells (nodes or text); `classes[i]` goes on column i's cells (`num` right-aligns).
 * @param {string[]} headers @param {Array<Array<unknown>>} rows @param {string[]} [classes]
 */
export function table(headers, rows, classes = []) {
  return h(
    'table',
    null,
    h('thead', null, h('tr', null, headers.map((t, i) => h(`th${classes[i] ? `.${classes[i]}` : ''}`, null, t)))),
    h('tbody', null, rows.map((cells) => h('tr', null, cells.map((c, i) => h(`td${classes[i] ? `.${classes[i]}` : ''}`, null, /** @type {any} */ (c)))))),
  );
}
