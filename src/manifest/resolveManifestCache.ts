/**
 * Which cache a manifest command works on, and where its links live.
 *
 * Precedence: `--cache-dir` > the manifest (`cache_dir`, else `hf_home`/hub)
 * > the environment (HF_HUB_CACHE, HF_HOME...). The manifest beats the
 * environment because it describes the stack; the flag beats both so the same
 * manifest (written with container paths) can be synced from the host.
 *
 * Links live in `<hf_home>/links/`, outside the hub folder so no other tool
 * takes them for cache content, and on the same volume as the cache so their
 * relative targets resolve in every container. With only a cache folder
 * known, HF_HOME is its parent (the default layout is `$HF_HOME/hub`).
 */
import { dirname, join, resolve } from 'node:path';
import type { Config } from '../config.js';
import type { Manifest } from './manifest.js';
import { LINKS_DIR_NAME } from './serviceLinkPath.js';

export interface ManifestCache {
  /** Hub cache root to read and write. */
  cacheDir: string;
  /** Local HF_HOME: parent of `links/`. */
  hfHome: string;
  linksDir: string;
  source: 'flag' | 'manifest' | 'env';
}

export interface ResolveManifestCacheParams {
  manifest: Manifest | undefined;
  /** Resolved config; its cacheDir already reflects `--cache-dir` and the env. */
  config: Pick<Config, 'cacheDir' | 'hfHome'>;
  /** The `--cache-dir` flag as given, if any. */
  cacheDirFlag?: string | undefined;
}

export function resolveManifestCache(params: ResolveManifestCacheParams): ManifestCache {
  const { manifest, config } = params;
  if (params.cacheDirFlag !== undefined && params.cacheDirFlag.length > 0) {
    return withLinks({ cacheDir: config.cacheDir, hfHome: hfHomeForCacheDir({ cacheDir: config.cacheDir, manifest }), source: 'flag' });
  }
  if (manifest?.cacheDir !== undefined) {
    return withLinks({ cacheDir: manifest.cacheDir, hfHome: manifest.hfHome ?? dirname(manifest.cacheDir), source: 'manifest' });
  }
  if (manifest?.hfHome !== undefined) {
    return withLinks({ cacheDir: join(manifest.hfHome, 'hub'), hfHome: manifest.hfHome, source: 'manifest' });
  }
  const hfHome = resolve(config.cacheDir) === join(resolve(config.hfHome), 'hub') ? config.hfHome : dirname(config.cacheDir);
  return withLinks({ cacheDir: config.cacheDir, hfHome, source: 'env' });
}

/** HF_HOME for a cache folder given on its own: the manifest's, if that is this cache, else the parent. */
export function hfHomeForCacheDir(params: { cacheDir: string; manifest?: Manifest | undefined }): string {
  const cacheDir = resolve(params.cacheDir);
  const m = params.manifest;
  if (m?.hfHome !== undefined && resolve(m.cacheDir ?? join(m.hfHome, 'hub')) === cacheDir) return m.hfHome;
  return dirname(cacheDir);
}

function withLinks(params: Omit<ManifestCache, 'linksDir'>): ManifestCache {
  return { ...params, linksDir: join(params.hfHome, LINKS_DIR_NAME) };
}
