/**
 * Temp files of interrupted writes that lie outside the cache's temp folder
 * (`.locks/.hubcache/tmp/`, swept whole by gc), by the names their writers
 * gave them: hubcache before that folder existed replaced files as
 * `<final>.<hex>.tmp` (refs, CACHEDIR.TAG, access records) and links as
 * `<final>.<hex>.tmplink` / `.relink`; freshFileMode still probes a folder's
 * mode with `.hubcache-mode-probe-<hex>` in that folder; huggingface_hub
 * probes with `tmp_<uuid4>` beside blobs/. A crash leaves exactly these
 * shapes behind; gc removes the ones old enough that no writer still owns them.
 */
import { MODE_PROBE_PREFIX } from '../cache/freshFileMode.js';

const TEMP_NAME_RES = [
  /\.[0-9a-f]{6,32}\.(?:tmp|tmplink|relink)$/,
  new RegExp(`^${MODE_PROBE_PREFIX.replace(/[.-]/g, '\\$&')}[0-9a-f]+$`),
  /^tmp_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
];

export function isTempFileName(name: string): boolean {
  return TEMP_NAME_RES.some((re) => re.test(name));
}
