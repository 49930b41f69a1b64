// @ts-check
/** Fills in flight: each upstream transfer with its progress and rate. */
import { ago, byId, bytes, fill, h, percent, table } from './dom.js';
import { state } from './state.js';

export function renderFills() {
  const fills = state.overview.fills;
  fill(
    byId('fills'),
    fills.length === 0
      ? h('div.empty', null, 'No transfer from upstream right now.')
      : table(
          ['File', 'Progress', 'Rate', 'Started'],
          fills.map((/** @type {any} */ f) => {
            const bar = h('div.progress-fill');
            bar.style.width = `${f.size ? (100 * f.written) / f.size : 0}%`;
            return [
              h('span', { 'data-fill': f.path }, h('span.mono', null, f.repo.replace(/^models--/, '').replace(/--/g, '/')), ' ', h('span.mono.dim', null, f.path)),
              h('div.progress', { title: `${bytes(f.written)} of ${bytes(f.size)}` }, bar, h('span.progress-text', { 'data-percent': f.size ? Math.floor((100 * f.written) / f.size) : 0 }, `${bytes(f.written)} / ${bytes(f.size)} (${percent(f.written, f.size)})`)),
              h('span.rate', null, `${bytes(f.bytesPerSecond)}/s`),
              ago(f.startedAt, state.overview.now),
            ];
          }),
        ),
  );
}
