/**
 * The cache volume: the one services keep HF_HOME/HF_HUB_CACHE on (a vote
 * over services, plus the manifest's hf_home), else a volume named like
 * "hf"/"huggingface", else the one named by `volume`.
 */
import type { Manifest } from '../manifest/manifest.js';
import type { ComposeFile, ComposeMount } from './parseComposeFile.js';
import { mountContaining } from './composePaths.js';
import type { HfView } from './hfView.js';

export interface CacheVolume {
  key: string;
  /** For messages: `volume hf-cache`, `host folder ./hf`. */
  label: string;
  /** For fixes: what goes left of ":" in a short mount. */
  short: string;
  target: string | undefined;
  services: string[];
}

export function findCacheVolume(params: { compose: ComposeFile; views: Map<string, HfView>; manifest: Manifest | undefined; volume: string | undefined }): CacheVolume | undefined {
  const describe = (key: string, mount: ComposeMount | undefined): CacheVolume => {
    const isBind = key.startsWith('bind:');
    const name = key.replace(/^(volume|bind):/, '');
    return { key, label: isBind ? `host folder ${name}` : `volume ${name}`, short: name, target: mount?.target, services: [] };
  };
  const mounts = params.compose.services.flatMap((s) => s.mounts).filter((m) => m.key !== undefined);
  if (params.volume !== undefined) {
    const wanted = params.volume;
    const mount = mounts.find((m) => m.key === `volume:${wanted}` || m.source === wanted);
    return describe(mount?.key ?? `volume:${wanted}`, mount);
  }
  const votes = new Map<string, number>();
  for (const service of params.compose.services) {
    const view = params.views.get(service.name);
    const where = view?.home ?? view?.hub;
    const mount = where !== undefined ? mountContaining(service, where) : undefined;
    if (mount?.key) votes.set(mount.key, (votes.get(mount.key) ?? 0) + 1);
    const hfHome = params.manifest?.hfHome;
    if (hfHome !== undefined) {
      const m = mountContaining(service, hfHome);
      if (m?.key) votes.set(m.key, (votes.get(m.key) ?? 0) + 1);
    }
  }
  let best: string | undefined;
  for (const [key, n] of [...votes].sort(([a], [b]) => a.localeCompare(b))) if (best === undefined || n > (votes.get(best) ?? 0)) best = key;
  if (best === undefined) best = mounts.find((m) => m.type === 'volume' && /h(ugging)?f|hugging/i.test(m.source ?? ''))?.key;
  return best === undefined ? undefined : describe(best, mounts.find((m) => m.key === best));
}
