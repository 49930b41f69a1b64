/**
 * Temp files of interrupted writes, by the names their writers give them:
 * hubcache replaces files as `<final>.<hex>.tmp` (refs, CACHEDIR.TAG, access
 * records), links as `<final>.<hex>.tmplink` / `.relink`, and probes a
 * folder's file mode with `.hubcache-mode-probe-<hex>`; huggingface_hub
 * probes with `tmp_<uuid4>` beside blobs/. A crash leaves exactly these
 * shapes behind; gc removes the ones old enough that no writer still owns them.
 */
import { randomBytes } from 'node:crypto';

const TEMP_NAME_RES = [
  /\.[0-9a-f]{6,32}\.(?:tmp|tmplink|relink)$/,
  /^\.hubcache-mode-probe-[0-9a-f]+$/,
  /^tmp_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
];

export function isTempFileName(name: string): boolean {
  return TEMP_NAME_RES.some((re) => re.test(name));
}

/** A sibling temp path for an atomic replace of `path` (same folder, so rename stays atomic). */
export function tempSiblingPath(params: { path: string }): string {
  return `${params.path}.${randomBytes(6).toString('hex')}.tmp`;
}
