// @ts-check
/** The chart panels: size by repo, size by service, mirror traffic over time (bytes, then hits and misses). */
import { byId, count, fill, h } from './dom.js';
import { barChart, requestsChart, trafficChart } from './charts.js';
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
  const minutes = o.traffic.length > 1 ? Math.max(1, Math.round((o.traffic[o.traffic.length - 1].t - o.traffic[0].t) / 60000)) : 0;
  fill(byId('traffic-note'), minutes ? `last ${minutes} min` : '');
  const requests = requestsChart({ samples: o.traffic });
  const hits = Number(requests.getAttribute('data-hits'));
  const misses = Number(requests.getAttribute('data-misses'));
  fill(
    byId('chart-traffic'),
    trafficChart({ samples: o.traffic }),
    h('div.legend', null, h('span.key.served', null, 'served to clients'), h('span.key.upstream', null, 'fetched upstream')),
    h('div', { id: 'chart-requests' }, requests),
    h('div.legend', null, h('span.key.hits', null, `${count(hits)} hit${hits === 1 ? '' : 's'}`), h('span.key.misses', null, `${count(misses)} miss${misses === 1 ? '' : 'es'}`)),
  );
}
