/**
 * What `hubcache.yaml` declares once parsed and validated: where the shared
 * cache lives (as the services see it) and, per service, the models it needs
 * and the stable link names it reads them through.
 */
import type { RepoType } from '../cache/repoId.js';

export const MANIFEST_FILE_NAME = 'hubcache.yaml';

/** 1-based, as editors and compilers print them. */
export interface SourcePosition {
  line: number;
  column: number;
}

export interface ManifestLink {
  /** File name under `<hf_home>/links/<service>/`: one safe path segment. */
  name: string;
  /** File or folder inside the snapshot; undefined links the snapshot folder itself. */
  path: string | undefined;
  /** Environment variable `hubcache env` sets to the link's path. */
  env: string | undefined;
  at: SourcePosition;
}

export interface ManifestModel {
  repoType: RepoType;
  repoId: string;
  /** Branch, tag or commit; `main` when not given. */
  revision: string;
  /** Exactly these files (no listing call); undefined means the globs (or the whole repo). */
  files: string[] | undefined;
  include: string[] | undefined;
  exclude: string[] | undefined;
  links: ManifestLink[];
  at: SourcePosition;
}

export interface ManifestService {
  name: string;
  models: ManifestModel[];
  at: SourcePosition;
}

export interface Manifest {
  /** Absolute path of the file read. */
  path: string;
  /** The path as the user named it, for messages (`hubcache.yaml:12:7: ...`). */
  displayPath: string;
  /** Absolute HF_HOME as the services see it (home of `hub/` and `links/`), if declared. */
  hfHome: string | undefined;
  /** Absolute hub cache root, if declared (default: `<hf_home>/hub`). */
  cacheDir: string | undefined;
  services: ManifestService[];
}
