// @ts-check
/** The findings of the last `doctor` run (grouped by code) and the last `verify`. */
import { ago, byId, bytes, count, fill, h } from './dom.js';
import { state } from './state.js';

export function renderHealth() {
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
                v.findings.slice(0, 10).map((/** @type {any} */ f) => h('li', null, h(`span.pill.${f.severity === 'error' ? 'bad' : 'warn'}`, null, f.code), ' ', h('span.mono', null, f.path), h('div.dim', null, f.message))),
              )
            : null,
        ),
  );
}
