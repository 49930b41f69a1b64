// @ts-check
/** The three chart panels: size by repo, size by service, mirror traffic over time. */
import { byId, fill, h } from './dom.js';
import { barChart, trafficChart } from './charts.js';
import { state } from './state.js';

export function renderCharts() {
  const o = state.overview;
  fill(byId('chart-repos'), barChart({ rows: o.topRepos.map((/** @type {any} */ r) => ({ label: r.id, value: r.sizeOnDisk })), empty: 'The cache is empty.' }));
  fill(
    byId('chart-services'),
    o.services.length
      ? barChart({ rows: o.services.map((/** @type {any} */ s) => ({ label: s.name, value: s.sizeOnDisk, note: s.repos.join(', ') })), empty: 'No service has cached models yet.' })
      : h('div.empty', null, o.manifestError ? `Manifest error: ${o.manifestError}` : 'No manifest (serve --manifest hubcache.yaml).'),
  );
  fill(byId('chart-traffic'), trafficChart({ samples: o.traffic }), h('div.legend', null, h('span.key.served', null, 'served to clients'), h('span.key.upstream', null, 'fetched upstream')));
}
