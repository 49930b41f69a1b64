/**
 * Makes the cache match the manifest: every model a service needs is
 * downloaded if missing (present files cost at most a metadata request, no
 * body), then each declared link is pointed at the resolved snapshot. A model
 * that fails leaves its old link alone, so a service keeps the revision it had
 * until the new one is complete. Identical entries shared by several services
 * are fetched once; different entries run in parallel.
 */
import { lstat, readdir, readlink, stat, unlink } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { HubcacheError, fromSystemError, isHubcacheError } from '../errors.js';
import { recordAccess } from '../cache/accessLog.js';
import { lookupCachedFile } from '../cache/resolveCachedFile.js';
import { formatRepoRef, parseRepoFolderName, repoFolderName, type RepoType } from '../cache/repoId.js';
import { repoPaths } from '../cache/repoPaths.js';
import { readRef } from '../cache/readRefs.js';
import { isCommitHash } from '../cache/revision.js';
import { downloadRepo } from '../download/downloadRepo.js';
import type { DownloadEvent } from '../download/downloadFile.js';
import { filterByGlobs } from '../download/matchGlobs.js';
import { getRepoInfo } from '../hub/getRepoInfo.js';
import { withRetries } from '../hub/withRetries.js';
import type { Manifest, ManifestModel, ManifestService } from './manifest.js';
import { serviceLinkPath, LINKS_DIR_NAME } from './serviceLinkPath.js';
import { serviceLinkText, writeServiceLink, type LinkChange } from './writeServiceLink.js';
import { quoteInput } from '../quoteInput.js';

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
type ModelOutcome = Omit<SyncModelResult, 'repo' | 'repoType' | 'repoId' | 'revision' | 'links'>;

export async function syncManifest(params: SyncManifestParams): Promise<SyncManifestResult> {
  const services = selectServices({ manifest: params.manifest, names: params.services });
  const dryRun = params.dryRun === true;
  // Identical entries (same repo, revision and file selection) are fetched once for every service naming them.
  const jobs = new Map<string, { model: ManifestModel }>();
  for (const service of services) for (const model of service.models) if (!jobs.has(modelKey(model))) jobs.set(modelKey(model), { model });
  const queue = [...jobs.values()];
  let next = 0;
  const workers = Math.max(1, Math.min(params.concurrency ?? 4, queue.length));
  const outcomes = new Map<ManifestModel, ModelOutcome>();
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (next < queue.length) {
        const job = queue[next++] as { model: ManifestModel };
        const outcome = dryRun ? await planModel({ params, model: job.model }) : await fetchModel({ params, model: job.model });
        outcomes.set(job.model, outcome);
      }
    }),
  );
  if (params.signal?.aborted) throw params.signal.reason;

  const results: SyncServiceResult[] = [];
  for (const service of services) {
    const models: SyncModelResult[] = [];
    for (const model of service.models) {
      const outcome = outcomes.get(jobs.get(modelKey(model))?.model as ManifestModel) as ModelOutcome;
      models.push(await linkModel({ params, service, model, outcome: { ...outcome, missing: [...outcome.missing] } }));
    }
    const staleLinks = await staleServiceLinks({ hfHome: params.hfHome, service, remove: !dryRun });
    results.push({ name: service.name, ok: models.every((m) => m.status === 'ok'), models, staleLinks });
  }
  if (!dryRun) {
    await Promise.all(
      [...outcomes].map(([model, o]) =>
        o.status === 'ok' && o.commit ? recordAccess({ cacheDir: params.cacheDir, repoFolder: repoFolderName(model), commit: o.commit }) : undefined,
      ),
    );
  }
  return {
    cacheDir: params.cacheDir,
    hfHome: params.hfHome,
    linksDir: join(params.hfHome, LINKS_DIR_NAME),
    dryRun,
    ok: results.every((s) => s.ok),
    services: results,
    bytesDownloaded: [...outcomes.values()].reduce((n, o) => n + o.bytesDownloaded, 0),
    unusedRepos: await unusedRepos({ manifest: params.manifest, cacheDir: params.cacheDir }),
  };
}

function selectServices(params: { manifest: Manifest; names: string[] | undefined }): ManifestService[] {
  const { manifest } = params;
  if (!params.names || params.names.length === 0) return manifest.services;
  const unknown = params.names.filter((name) => !manifest.services.some((s) => s.name === name));
  if (unknown.length > 0) {
    throw new HubcacheError({
      code: 'E_USAGE',
      message: `No service ${unknown.map((n) => quoteInput(n)).join(', ')} in ${manifest.displayPath}`,
      hint: `Services in the manifest: ${manifest.services.map((s) => s.name).join(', ') || '(none)'}.`,
      data: { unknown },
    });
  }
  return manifest.services.filter((s) => params.names?.includes(s.name));
}

function modelKey(model: ManifestModel): string {
  return JSON.stringify([model.repoType, model.repoId, model.revision, model.files ?? null, model.include ?? null, model.exclude ?? null]);
}

function emptyOutcome(): ModelOutcome {
  return { commit: undefined, snapshotPath: undefined, status: 'ok', files: 0, downloaded: 0, bytesDownloaded: 0, wouldDownload: [], missing: [], error: undefined };
}

/** "Not there and cannot be fetched now" is missing; anything else (auth, network, server) failed. */
function statusFor(err: unknown): SyncStatus {
  return isHubcacheError(err, 'E_OFFLINE') || isHubcacheError(err, 'E_NOT_CACHED') || isHubcacheError(err, 'E_ENTRY_NOT_FOUND') ? 'missing' : 'failed';
}

function errorFacts(err: unknown): NonNullable<SyncModelResult['error']> {
  const typed = fromSystemError({ err, action: 'sync the model' });
  if (typed instanceof HubcacheError) return { code: typed.code, message: typed.message, ...(typed.hint ? { hint: typed.hint } : {}) };
  return { code: 'E_INTERNAL', message: err instanceof Error ? err.message : String(err) };
}

async function fetchModel(args: { params: SyncManifestParams; model: ManifestModel }): Promise<ModelOutcome> {
  const { params, model } = args;
  const repo = formatRepoRef(model);
  const outcome = emptyOutcome();
  try {
    const result = await downloadRepo({
      repoType: model.repoType,
      repoId: model.repoId,
      cacheDir: params.cacheDir,
      endpoint: params.endpoint,
      token: params.token,
      offline: params.offline === true,
      revision: model.revision,
      ...(model.files ? { files: model.files } : {}),
      ...(model.include ? { include: model.include } : {}),
      ...(model.exclude ? { exclude: model.exclude } : {}),
      ...(params.maxWorkers !== undefined ? { maxWorkers: params.maxWorkers } : {}),
      signal: params.signal,
      onPlan: (plan) => params.onPlan?.({ model: repo, files: plan.files.map((f) => ({ path: `${repo}/${f.path}`, size: f.size })) }),
      ...(params.onEvent ? { onEvent: prefixEvents({ repo, onEvent: params.onEvent }) } : {}),
    });
    outcome.commit = result.commit;
    outcome.snapshotPath = result.path;
    outcome.bytesDownloaded = result.bytesDownloaded;
    outcome.downloaded = result.files.filter((f) => !f.fromCache).length;
    // Files fetched one by one follow the branch separately; all must be in the one snapshot the links use.
    const present = await snapshotFiles({ dir: result.path });
    if (model.files) {
      outcome.files = model.files.length;
      outcome.missing = model.files.filter((f) => !present.includes(f));
    } else {
      const matching = filterByGlobs({ paths: present, ...(model.include ? { include: model.include } : {}), ...(model.exclude ? { exclude: model.exclude } : {}) });
      outcome.files = Math.max(result.files.length, matching.length);
      if (result.files.length > 0) outcome.missing = result.files.map((f) => relative(result.path, f.path)).filter((f) => !present.includes(f));
      else if (matching.length === 0) outcome.missing = [`no cached file matches ${describeGlobs(model)}`];
    }
    if (outcome.missing.length > 0) outcome.status = 'missing';
  } catch (err) {
    if (params.signal?.aborted) throw params.signal.reason ?? err;
    outcome.status = statusFor(err);
    outcome.error = errorFacts(err);
    if (model.files) {
      // Say exactly which files are not there, from the cache alone.
      for (const path of model.files) {
        const found = await lookupCachedFile({ ...model, cacheDir: params.cacheDir, revision: model.revision, path }).catch(() => undefined);
        if (found?.status !== 'found') outcome.missing.push(path);
      }
    }
  }
  return outcome;
}

async function planModel(args: { params: SyncManifestParams; model: ManifestModel }): Promise<ModelOutcome> {
  const { params, model } = args;
  const outcome = emptyOutcome();
  const paths = repoPaths({ ...model, cacheDir: params.cacheDir });
  try {
    let wanted: Array<{ path: string; size: number | undefined }>;
    if (params.offline) {
      const commit = isCommitHash(model.revision) ? model.revision : await readRef({ refPath: paths.ref(model.revision) });
      if (!commit || !isCommitHash(commit)) {
        throw new HubcacheError({ code: 'E_OFFLINE', message: `Offline: revision ${model.revision} of ${formatRepoRef(model)} is not in the cache` });
      }
      outcome.commit = commit;
      const present = await snapshotFiles({ dir: paths.snapshot(commit) });
      wanted = (model.files ?? filterByGlobs({ paths: present, ...(model.include ? { include: model.include } : {}), ...(model.exclude ? { exclude: model.exclude } : {}) })).map((path) => ({
        path,
        size: undefined,
      }));
      if (!model.files && wanted.length === 0) outcome.missing.push(`no cached file matches ${describeGlobs(model)}`);
    } else {
      const info = await withRetries({ retries: 3, signal: params.signal, fn: () => getRepoInfo({ ...model, endpoint: params.endpoint, token: params.token, revision: model.revision, signal: params.signal }) });
      outcome.commit = info.commit;
      const sizes = new Map(info.files.map((f) => [f.path, f.size]));
      if (model.files) {
        outcome.missing.push(...model.files.filter((f) => !sizes.has(f)).map((f) => `${f} (not in the repo at ${model.revision})`));
        wanted = model.files.filter((f) => sizes.has(f)).map((path) => ({ path, size: sizes.get(path) }));
      } else {
        wanted = filterByGlobs({ paths: [...sizes.keys()], ...(model.include ? { include: model.include } : {}), ...(model.exclude ? { exclude: model.exclude } : {}) }).map((path) => ({
          path,
          size: sizes.get(path),
        }));
        if (wanted.length === 0) outcome.missing.push(`no file of the repo matches ${describeGlobs(model)}`);
      }
    }
    outcome.snapshotPath = paths.snapshot(outcome.commit);
    outcome.files = wanted.length;
    for (const file of wanted) {
      const found = await lookupCachedFile({ ...model, cacheDir: params.cacheDir, revision: outcome.commit, path: file.path });
      if (found.status === 'found') continue;
      if (params.offline) outcome.missing.push(file.path);
      else outcome.wouldDownload.push(file);
    }
    outcome.downloaded = outcome.wouldDownload.length;
    if (outcome.missing.length > 0) outcome.status = 'missing';
  } catch (err) {
    if (params.signal?.aborted) throw params.signal.reason ?? err;
    outcome.status = statusFor(err);
    outcome.error = errorFacts(err);
  }
  return outcome;
}

async function linkModel(args: { params: SyncManifestParams; service: ManifestService; model: ManifestModel; outcome: ModelOutcome }): Promise<SyncModelResult> {
  const { params, service, model, outcome } = args;
  const dryRun = params.dryRun === true;
  const links: SyncLinkResult[] = [];
  let status = outcome.status;
  let error = outcome.error;
  for (const link of model.links) {
    const path = serviceLinkPath({ hfHome: params.hfHome, service: service.name, name: link.name });
    const base = { name: link.name, path, env: link.env };
    if (status !== 'ok' || !outcome.commit || !outcome.snapshotPath) {
      links.push({ ...base, target: undefined, change: 'kept' });
      continue;
    }
    const paths = repoPaths({ ...model, cacheDir: params.cacheDir });
    const target = link.path !== undefined ? paths.snapshotFile(outcome.commit, link.path) : paths.snapshot(outcome.commit);
    const wouldExist = dryRun && (link.path === undefined || outcome.wouldDownload.some((f) => f.path === link.path || f.path.startsWith(`${link.path}/`)));
    if (!wouldExist && !(await stat(target).then(() => true, () => false))) {
      status = 'missing';
      outcome.missing.push(`${link.path ?? '(snapshot folder)'} for link "${link.name}" is not in the snapshot`);
      links.push({ ...base, target, change: 'kept' });
      continue;
    }
    if (dryRun) {
      const current = await lstat(path).then(
        async () => readlinkOrUndefined(path),
        () => undefined,
      );
      const text = serviceLinkText({ linkPath: path, target });
      links.push({ ...base, target, change: current === undefined ? 'would-create' : current === text ? 'unchanged' : 'would-update' });
      continue;
    }
    try {
      const written = await writeServiceLink({ linkPath: path, target });
      links.push({ ...base, target, change: written.change });
    } catch (err) {
      status = 'failed';
      error = errorFacts(err);
      links.push({ ...base, target, change: 'kept' });
    }
  }
  return {
    repo: formatRepoRef(model),
    repoType: model.repoType,
    repoId: model.repoId,
    revision: model.revision,
    commit: outcome.commit,
    snapshotPath: outcome.snapshotPath,
    status,
    files: outcome.files,
    downloaded: outcome.downloaded,
    bytesDownloaded: outcome.bytesDownloaded,
    wouldDownload: outcome.wouldDownload,
    missing: outcome.missing,
    error,
    links,
  };
}

async function readlinkOrUndefined(path: string): Promise<string | undefined> {
  return readlink(path).catch(() => undefined);
}

/** Links in the service's folder that no declared link names; only links are touched, never files. */
async function staleServiceLinks(params: { hfHome: string; service: ManifestService; remove: boolean }): Promise<string[]> {
  const dir = join(params.hfHome, LINKS_DIR_NAME, params.service.name);
  const declared = new Set(params.service.models.flatMap((m) => m.links.map((l) => l.name)));
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const stale: string[] = [];
  for (const entry of entries) {
    // Dot names are other syncs' temp links, mid-swap.
    if (entry.name.startsWith('.') || declared.has(entry.name) || !entry.isSymbolicLink()) continue;
    const path = join(dir, entry.name);
    if (params.remove) await unlink(path).catch(() => undefined);
    stale.push(path);
  }
  return stale.sort();
}

async function unusedRepos(params: { manifest: Manifest; cacheDir: string }): Promise<string[]> {
  const used = new Set(params.manifest.services.flatMap((s) => s.models.map((m) => repoFolderName(m))));
  const names = await readdir(params.cacheDir).catch(() => [] as string[]);
  return names
    .filter((name) => !used.has(name))
    .map((name) => parseRepoFolderName({ name }))
    .filter((ref) => ref !== undefined)
    .map((ref) => formatRepoRef(ref))
    .sort();
}

/** Relative paths of the files (and file links) in a snapshot folder. */
async function snapshotFiles(params: { dir: string }): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string, prefix: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
      if (entry.isDirectory()) await walk(join(dir, entry.name), rel);
      // A link counts only if it resolves: a dangling one is a missing file for the service.
      else if (await stat(join(dir, entry.name)).then((s) => s.isFile(), () => false)) out.push(rel);
    }
  };
  await walk(params.dir, '');
  return out;
}

function describeGlobs(model: ManifestModel): string {
  const parts: string[] = [];
  if (model.include) parts.push(`include ${model.include.join(', ')}`);
  if (model.exclude) parts.push(`exclude ${model.exclude.join(', ')}`);
  return parts.length > 0 ? parts.join('; ') : 'the repo';
}

function prefixEvents(params: { repo: string; onEvent: (event: DownloadEvent) => void }): (event: DownloadEvent) => void {
  return (event) => params.onEvent({ ...event, path: event.path ? `${params.repo}/${event.path}` : params.repo });
}
