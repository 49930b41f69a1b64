/**
 * What rm/prune/evict add to their `--keep` pins when a manifest is around:
 * the revisions its services need (see manifestPins), unless `--force`. The
 * note goes into the plan, so `--dry-run` and `--json` say what was kept and why.
 */
import type { PinnedRevisions } from '../maintenance/plan.js';
import { listManifestPins } from './manifestPins.js';

export interface ManifestProtectionParams {
  /** Pins from `--keep`. */
  pinned: PinnedRevisions;
  cacheDir: string;
  /** `--manifest FILE`, else $HUBCACHE_MANIFEST; unset: `./hubcache.yaml` if present. */
  manifestPath?: string | undefined;
  /** `--force`: the manifest is not even read (a broken one must not block a forced cleanup). */
  force: boolean;
  cwd?: string;
}

export interface ManifestProtection {
  pinned: PinnedRevisions;
  /** For the plan's notes; undefined when there is nothing to say. */
  note: string | undefined;
}

export async function manifestProtection(params: ManifestProtectionParams): Promise<ManifestProtection> {
  if (params.force) {
    return { pinned: params.pinned, note: '--force: revisions the manifest (hubcache.yaml) needs are not protected' };
  }
  const list = await listManifestPins({ manifestPath: params.manifestPath, cacheDir: params.cacheDir, ...(params.cwd !== undefined ? { cwd: params.cwd } : {}) });
  if (!list.manifest || list.pins.length === 0) return { pinned: params.pinned, note: undefined };
  const services = [...new Set(list.pins.flatMap((p) => p.neededBy.map((n) => n.split(' ')[0] as string)))].sort();
  return {
    pinned: new Set([...params.pinned, ...list.pinned]),
    note: `${list.manifest.displayPath} pins ${list.pins.length} cached revision(s) that services need (${services.join(', ')}); they stay (--force removes them anyway)`,
  };
}
