/**
 * The revisions a manifest needs, for rm/prune/evict to keep: for every model
 * entry, the commit its revision resolves to in this cache (refs/, or the
 * commit itself), and the commit its service links point to right now. The
 * second matters when a branch moved under a running service: refs/main
 * names the new commit, while the service still reads the old one through
 * its link until the next sync swaps it.
 */
import { readlink } from 'node:fs/promises';
import { dirname, relative, resolve, sep } from 'node:path';
import { formatRepoRef, parseRepoFolderName, repoFolderName } from '../cache/repoId.js';
import { repoPaths } from '../cache/repoPaths.js';
import { readRef } from '../cache/readRefs.js';
import { isCommitHash } from '../cache/revision.js';
import { pinKey, type PinnedRevisions } from '../maintenance/plan.js';
import { loadManifest } from './loadManifest.js';
import type { Manifest } from './manifest.js';
import { hfHomeForCacheDir } from './resolveManifestCache.js';
import { serviceLinkPath } from './serviceLinkPath.js';

export interface ManifestPinsParams {
  /** A manifest named by `-f`/`--manifest` or $HUBCACHE_MANIFEST: it must exist. Unset: `./hubcache.yaml` if there is one. */
  manifestPath?: string | undefined;
  cacheDir: string;
  /** Where the default `hubcache.yaml` is looked for (default: the working folder). */
  cwd?: string;
  /** Already loaded: skips discovery. */
  manifest?: Manifest;
}

export interface ManifestPin {
  /** Repo folder name (`models--org--name`). */
  repo: string;
  commit: string;
  /** Services needing it, and how (`llama-cpp (revision main)`, `llama-cpp (link model.gguf)`). */
  neededBy: string[];
}

export interface ManifestPinList {
  /** Undefined when no manifest was found (nothing is pinned). */
  manifest: Manifest | undefined;
  pins: ManifestPin[];
  pinned: PinnedRevisions;
}

/** The pinned set rm/prune/evict planners accept (`<repo-folder>/<commit>` keys). */
export async function manifestPins(params: ManifestPinsParams): Promise<PinnedRevisions> {
  return (await listManifestPins(params)).pinned;
}

export async function listManifestPins(params: ManifestPinsParams): Promise<ManifestPinList> {
  const manifest =
    params.manifest ?? (await loadManifest({ path: params.manifestPath, required: false, ...(params.cwd !== undefined ? { cwd: params.cwd } : {}) }));
  if (!manifest) return { manifest: undefined, pins: [], pinned: new Set() };
  const cacheDir = resolve(params.cacheDir);
  const hfHome = hfHomeForCacheDir({ cacheDir, manifest });
  const pins = new Map<string, ManifestPin>();
  const add = (repo: string, commit: string, why: string): void => {
    const key = pinKey({ repo, commit });
    const pin = pins.get(key) ?? { repo, commit, neededBy: [] };
    if (!pin.neededBy.includes(why)) pin.neededBy.push(why);
    pins.set(key, pin);
  };
  for (const service of manifest.services) {
    for (const model of service.models) {
      const folder = repoFolderName(model);
      const commit = isCommitHash(model.revision)
        ? model.revision
        : await readRef({ refPath: repoPaths({ ...model, cacheDir }).ref(model.revision) }).catch(() => undefined);
      if (commit && isCommitHash(commit)) add(folder, commit, `${service.name} (${formatRepoRef(model)}@${model.revision})`);
      for (const link of model.links) {
        const linkPath = serviceLinkPath({ hfHome, service: service.name, name: link.name });
        const text = await readlink(linkPath).catch(() => undefined);
        if (text === undefined) continue;
        const target = snapshotOf({ cacheDir, path: resolve(dirname(linkPath), text) });
        if (target) add(target.repo, target.commit, `${service.name} (link ${link.name})`);
      }
    }
  }
  const list = [...pins.values()].sort((a, b) => a.repo.localeCompare(b.repo) || a.commit.localeCompare(b.commit));
  return { manifest, pins: list, pinned: new Set(pins.keys()) };
}

/** `<cacheDir>/<repo>/snapshots/<commit>[/...]` -> its repo folder and commit. */
function snapshotOf(params: { cacheDir: string; path: string }): { repo: string; commit: string } | undefined {
  const rel = relative(params.cacheDir, params.path);
  const [repo, snapshots, commit] = rel.split(sep);
  if (!repo || snapshots !== 'snapshots' || !commit || !isCommitHash(commit) || !parseRepoFolderName({ name: repo })) return undefined;
  return { repo, commit };
}
