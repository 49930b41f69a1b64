// @ts-check
/**
 * The dashboard's charts as plain SVG: horizontal bars (size by repo, by service), a two-series
 * area chart (bytes served vs fetched upstream per second) and stacked bars of requests (hits
 * and misses per sampling interval). A few dozen lines each,
 * so no chart library is shipped (nothing to bundle, nothing from a CDN).
 */
import { bytes, h } from './dom.js';

const SVG = 'http://www.w3.org/2000/svg';

/** @param {string} tag @param {Record<string, string | number>} attrs @param {...Node} children */
function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children) el.appendChild(c);
  return el;
}

/** @param {string} text */
function t(text) {
  return document.createTextNode(text);
}

const PALETTE = ['#4f46e5', '#0ea5e9', '#10b981', '#f59e0b', '#ef4444', '#8b5cf6', '#14b8a6', '#f97316', '#64748b', '#ec4899', '#84cc16', '#06b6d4'];

/**
 * @param {{ rows: Array<{ label: string; value: number; note?: string }>; empty: string }} params
 * @returns {Element}
 */
export function barChart(params) {
  const rows = params.rows.filter((r) => r.value > 0);
  if (rows.length === 0) return h('div.empty', null, params.empty);
  const max = Math.max(...rows.map((r) => r.value));
  return h(
    'div.bars',
    null,
    rows.map((row, i) => {
      const bar = h('div.bar-fill');
      bar.style.width = `${Math.max(1.5, (100 * row.value) / max)}%`;
      bar.style.background = PALETTE[i % PALETTE.length] ?? '#4f46e5';
      return h('div.bar-row', { title: `${row.label}: ${bytes(row.value)}${row.note ? ` (${row.note})` : ''}` }, h('div.bar-label', null, row.label), h('div.bar-track', null, bar), h('div.bar-value', null, bytes(row.value)));
    }),
  );
}

/**
 * Bytes per second served to clients and fetched upstream, from cumulative samples.
 * @param {{ samples: Array<{ t: number; servedBytes: number; upstreamBytes: number }> }} params
 * @returns {Element}
 */
export function trafficChart(params) {
  const { samples } = params;
  const points = [];
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1];
    const b = samples[i];
    if (!a || !b) continue;
    const dt = Math.max(0.001, (b.t - a.t) / 1000);
    points.push({ t: b.t, served: Math.max(0, (b.servedBytes - a.servedBytes) / dt), upstream: Math.max(0, (b.upstreamBytes - a.upstreamBytes) / dt) });
  }
  const W = 420;
  const H = 170;
  const pad = { l: 56, r: 8, t: 10, b: 22 };
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'traffic', role: 'img', 'aria-label': 'bytes per second served and fetched upstream' });
  if (points.length < 1) {
    svg.appendChild(s('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', class: 'axis' }, t('collecting samples...')));
    return svg;
  }
  const t0 = points[0]?.t ?? 0;
  const t1 = Math.max(t0 + 1, points[points.length - 1]?.t ?? 0);
  const peak = Math.max(1, ...points.map((p) => Math.max(p.served, p.upstream)));
  const x = (/** @type {number} */ time) => pad.l + ((time - t0) / (t1 - t0)) * (W - pad.l - pad.r);
  const y = (/** @type {number} */ v) => H - pad.b - (v / peak) * (H - pad.t - pad.b);
  for (const frac of [0, 0.5, 1]) {
    const yy = y(peak * frac);
    svg.appendChild(s('line', { x1: pad.l, x2: W - pad.r, y1: yy, y2: yy, class: 'grid' }));
    svg.appendChild(s('text', { x: pad.l - 6, y: yy + 4, 'text-anchor': 'end', class: 'axis' }, t(`${bytes(peak * frac)}/s`)));
  }
  const minutes = Math.round((t1 - t0) / 60000);
  svg.appendChild(s('text', { x: pad.l, y: H - 4, class: 'axis' }, t(minutes >= 1 ? `${minutes} min ago` : `${Math.round((t1 - t0) / 1000)} s ago`)));
  svg.appendChild(s('text', { x: W - pad.r, y: H - 4, 'text-anchor': 'end', class: 'axis' }, t('now')));
  for (const [key, cls] of /** @type {const} */ ([['served', 'served'], ['upstream', 'upstream']])) {
    const line = points.map((p, i) => `${i === 0 ? 'M' : 'L'}${x(p.t).toFixed(1)},${y(p[key]).toFixed(1)}`).join(' ');
    const first = points[0];
    const last = points[points.length - 1];
    if (!first || !last) continue;
    svg.appendChild(s('path', { d: `${line} L${x(last.t).toFixed(1)},${y(0)} L${x(first.t).toFixed(1)},${y(0)} Z`, class: `area ${cls}` }));
    svg.appendChild(s('path', { d: line, class: `line ${cls}` }));
  }
  return svg;
}

/**
 * File requests answered from the cache (hits) and from upstream (misses), one stacked bar per
 * sampling interval, from cumulative samples. The legend counts both over the window shown.
 * @param {{ samples: Array<{ t: number; hits: number; misses: number }> }} params
 * @returns {Element}
 */
export function requestsChart(params) {
  const { samples } = params;
  const first = samples[0];
  const last = samples[samples.length - 1];
  const bars = [];
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1];
    const b = samples[i];
    if (a && b) bars.push({ t0: a.t, t1: b.t, hits: Math.max(0, b.hits - a.hits), misses: Math.max(0, b.misses - a.misses) });
  }
  const hits = first && last ? last.hits - first.hits : 0;
  const misses = first && last ? last.misses - first.misses : 0;
  const W = 420;
  const H = 110;
  const pad = { l: 56, r: 8, t: 8, b: 18 };
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'requests', role: 'img', 'aria-label': `${hits} hits and ${misses} misses`, 'data-hits': hits, 'data-misses': misses });
  if (!first || !last || bars.length === 0) {
    svg.appendChild(s('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', class: 'axis' }, t('collecting samples...')));
    return svg;
  }
  const t0 = first.t;
  const t1 = Math.max(t0 + 1, last.t);
  const peak = Math.max(1, ...bars.map((b) => b.hits + b.misses));
  const x = (/** @type {number} */ time) => pad.l + ((time - t0) / (t1 - t0)) * (W - pad.l - pad.r);
  const y = (/** @type {number} */ v) => H - pad.b - (v / peak) * (H - pad.t - pad.b);
  for (const frac of [0, 1]) {
    const yy = y(peak * frac);
    svg.appendChild(s('line', { x1: pad.l, x2: W - pad.r, y1: yy, y2: yy, class: 'grid' }));
    svg.appendChild(s('text', { x: pad.l - 6, y: yy + 4, 'text-anchor': 'end', class: 'axis' }, t(`${Math.round(peak * frac)} req`)));
  }
  for (const bar of bars) {
    if (bar.hits + bar.misses === 0) continue;
    const left = x(bar.t0);
    // At least 2 px wide, so a single request in a 10-minute window stays visible.
    const width = Math.max(2, x(bar.t1) - left - 0.5).toFixed(1);
    svg.appendChild(s('rect', { x: left.toFixed(1), y: y(bar.hits).toFixed(1), width, height: (y(0) - y(bar.hits)).toFixed(1), class: 'bar hits' }));
    svg.appendChild(s('rect', { x: left.toFixed(1), y: y(bar.hits + bar.misses).toFixed(1), width, height: (y(bar.hits) - y(bar.hits + bar.misses)).toFixed(1), class: 'bar misses' }));
  }
  return svg;
}

/**
 * A horizontal gauge with marks: the cache's size against the disk and the budget.
 * @param {{ used: number; total: number; marks: Array<{ at: number; label: string }>; segments: Array<{ value: number; cls: string; label: string }> }} params
 */
export function gauge(params) {
  const track = h('div.gauge-track');
  let left = 0;
  for (const seg of params.segments) {
    const el = h(`div.gauge-seg.${seg.cls}`, { title: seg.label });
    const width = params.total > 0 ? (100 * seg.value) / params.total : 0;
    el.style.left = `${left}%`;
    el.style.width = `${Math.min(100 - left, width)}%`;
    left = Math.min(100, left + width);
    track.appendChild(el);
  }
  for (const mark of params.marks) {
    if (params.total <= 0 || mark.at > params.total) continue;
    const el = h('div.gauge-mark', { title: mark.label });
    el.style.left = `${(100 * mark.at) / params.total}%`;
    track.appendChild(el);
  }
  return track;
}
