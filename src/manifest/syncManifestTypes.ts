/** The parameters and the report of `syncManifest`, shared by the files that build it. */
import type { RepoType } from '../cache/repoId.js';
import type { DownloadEvent } from '../download/downloadFile.js';
import type { Manifest } from './manifest.js';
import type { LinkChange } from './writeServiceLink.js';

export interface SyncManifestParams {
  manifest: Manifest;
  cacheDir: string;
  /** Local HF_HOME: links go to `<hfHome>/links/<service>/<name>`. */
  hfHome: string;
  endpoint: string;
  token?: string | undefined;
  offline?: boolean;
  /** Only these services (default: all). */
  services?: string[];
  /** Report what would be downloaded and linked; change nothing. */
  dryRun?: boolean;
  /** Files of one model downloaded in parallel (default 8). */
  maxWorkers?: number;
  /** Models synced in parallel (default 4). */
  concurrency?: number;
  signal?: AbortSignal | undefined;
  /** A model's file list is known (paths are prefixed `<repo>/`, so several models can share one progress display). */
  onPlan?: (plan: { model: string; files: Array<{ path: string; size: number | undefined }> }) => void;
  /** Download events, paths prefixed `<repo>/`. */
  onEvent?: (event: DownloadEvent) => void;
}

export type SyncStatus = 'ok' | 'missing' | 'failed';

export interface SyncLinkResult {
  name: string;
  /** Absolute path of the link. */
  path: string;
  /** Absolute snapshot file or folder it points to (undefined when the model did not resolve). */
  target: string | undefined;
  env: string | undefined;
  change: LinkChange | 'would-create' | 'would-update' | 'kept';
}

export interface SyncModelResult {
  repo: string;
  repoType: RepoType;
  repoId: string;
  revision: string;
  commit: string | undefined;
  snapshotPath: string | undefined;
  status: SyncStatus;
  /** Files the model resolved to (0 when unknown, e.g. offline with globs). */
  files: number;
  /** Files fetched now (dry run: that would be fetched). */
  downloaded: number;
  bytesDownloaded: number;
  /** Dry run: what would be fetched, with sizes when the Hub told them. */
  wouldDownload: Array<{ path: string; size: number | undefined }>;
  /** What is missing, in words (file paths, or what a glob did not match). */
  missing: string[];
  error: { code: string; message: string; hint?: string } | undefined;
  links: SyncLinkResult[];
}

export interface SyncServiceResult {
  name: string;
  ok: boolean;
  models: SyncModelResult[];
  /** Links in `links/<service>/` the manifest no longer declares (removed unless dry run). */
  staleLinks: string[];
}

export interface SyncManifestResult {
  cacheDir: string;
  hfHome: string;
  linksDir: string;
  dryRun: boolean;
  ok: boolean;
  services: SyncServiceResult[];
  bytesDownloaded: number;
  /** Cached repos no service of the manifest needs (reported, never removed). */
  unusedRepos: string[];
}

/** What syncing one model yields, before it is labelled with its repo and links. */
export type ModelOutcome = Omit<SyncModelResult, 'repo' | 'repoType' | 'repoId' | 'revision' | 'links'>;
