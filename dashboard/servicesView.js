// @ts-check
/** Per service of the manifest: each stable link, the revision it points to, and whether it resolves. */
import { byId, bytes, fill, h, short, table } from './dom.js';
import { state } from './state.js';

export function renderServices() {
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
      o.services.map((/** @type {any} */ s) =>
        h(
          'div.service',
          { 'data-service': s.name },
          h('div.service-head', null, h('span.service-name', null, s.name), h(`span.pill.${s.ok ? 'ok' : 'bad'}`, null, s.ok ? 'all links resolve' : 'needs sync'), h('span.dim', null, bytes(s.sizeOnDisk))),
          table(
            ['Link', 'Model', 'Revision', 'State'],
            s.links.map((/** @type {any} */ l) => [
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
