/**
 * One manifest entry, for the real run and the dry run through the same
 * steps: find the commit and (when there is one) the repo's file list, ask
 * `modelNeeds` what the entry needs that the snapshot lacks, and report it.
 * The real run gets commit and list from `downloadRepo` (which fetched what
 * was missing); the dry run reads them from the Hub, or from the refs
 * offline, and fetches nothing.
 */
import { relative } from 'node:path';
import { HubcacheError, fromSystemError, isHubcacheError } from '../errors.js';
import { lookupCachedFile } from '../cache/resolveCachedFile.js';
import { formatRepoRef } from '../cache/repoId.js';
import { repoPaths } from '../cache/repoPaths.js';
import { readRef } from '../cache/readRefs.js';
import { isCommitHash } from '../cache/revision.js';
import { downloadRepo } from '../download/downloadRepo.js';
import type { DownloadEvent } from '../download/downloadFile.js';
import { getRepoInfo } from '../hub/getRepoInfo.js';
import { withRetries } from '../hub/withRetries.js';
import type { ManifestModel } from './manifest.js';
import { modelNeeds, type WantedFile } from './modelNeeds.js';
import { snapshotFiles } from './snapshotFiles.js';
import type { ModelOutcome, SyncManifestParams, SyncModelResult, SyncStatus } from './syncManifestTypes.js';

/** Where an entry's revision is and what the repo holds there. */
interface ModelSource {
  commit: string;
  snapshotPath: string;
  /** The repo's files at the commit; undefined when only the snapshot is known (offline). */
  listing: WantedFile[] | undefined;
  downloaded: number;
  bytesDownloaded: number;
}

export async function resolveModel(args: { params: SyncManifestParams; model: ManifestModel }): Promise<ModelOutcome> {
  const { params, model } = args;
  const dryRun = params.dryRun === true;
  const outcome: ModelOutcome = { commit: undefined, snapshotPath: undefined, status: 'ok', files: 0, downloaded: 0, bytesDownloaded: 0, wouldDownload: [], missing: [], error: undefined };
  try {
    const source = dryRun ? await lookUpModel({ params, model }) : await fetchModel({ params, model });
    // Files fetched one by one follow the branch separately; all must be in the one snapshot the links use.
    const needs = modelNeeds({ model, listing: source.listing, present: await snapshotFiles({ dir: source.snapshotPath }) });
    outcome.commit = source.commit;
    outcome.snapshotPath = source.snapshotPath;
    outcome.files = needs.wanted.length;
    outcome.bytesDownloaded = source.bytesDownloaded;
    outcome.missing.push(...needs.unmatched);
    // Only a dry run with the Hub in reach could still fetch what is absent; otherwise it is missing.
    if (dryRun && !params.offline) outcome.wouldDownload = needs.absent;
    else outcome.missing.push(...needs.absent.map((f) => f.path));
    outcome.downloaded = dryRun ? outcome.wouldDownload.length : source.downloaded;
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

/** Real run: download what is missing; the download's own listing says what the repo holds. */
async function fetchModel(args: { params: SyncManifestParams; model: ManifestModel }): Promise<ModelSource> {
  const { params, model } = args;
  const repo = formatRepoRef(model);
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
  // Explicit files need no listing; an offline (or fallback) snapshot comes back with no file list.
  const listed = !model.files && result.files.length > 0;
  return {
    commit: result.commit,
    snapshotPath: result.path,
    listing: listed ? result.files.map((f) => ({ path: relative(result.path, f.path), size: f.size })) : undefined,
    downloaded: result.files.filter((f) => !f.fromCache).length,
    bytesDownloaded: result.bytesDownloaded,
  };
}

/** Dry run: the commit and listing from the Hub, or offline from the refs; nothing is fetched. */
async function lookUpModel(args: { params: SyncManifestParams; model: ManifestModel }): Promise<ModelSource> {
  const { params, model } = args;
  const paths = repoPaths({ ...model, cacheDir: params.cacheDir });
  if (params.offline) {
    const commit = isCommitHash(model.revision) ? model.revision : await readRef({ refPath: paths.ref(model.revision) });
    if (!commit || !isCommitHash(commit)) {
      throw new HubcacheError({ code: 'E_OFFLINE', message: `Offline: revision ${model.revision} of ${formatRepoRef(model)} is not in the cache` });
    }
    return { commit, snapshotPath: paths.snapshot(commit), listing: undefined, downloaded: 0, bytesDownloaded: 0 };
  }
  const info = await withRetries({ retries: 3, signal: params.signal, fn: () => getRepoInfo({ ...model, endpoint: params.endpoint, token: params.token, revision: model.revision, signal: params.signal }) });
  return { commit: info.commit, snapshotPath: paths.snapshot(info.commit), listing: info.files.map((f) => ({ path: f.path, size: f.size })), downloaded: 0, bytesDownloaded: 0 };
}

/** "Not there and cannot be fetched now" is missing; anything else (auth, network, server) failed. */
function statusFor(err: unknown): SyncStatus {
  return isHubcacheError(err, 'E_OFFLINE') || isHubcacheError(err, 'E_NOT_CACHED') || isHubcacheError(err, 'E_ENTRY_NOT_FOUND') ? 'missing' : 'failed';
}

export function errorFacts(err: unknown): NonNullable<SyncModelResult['error']> {
  const typed = fromSystemError({ err, action: 'sync the model' });
  if (typed instanceof HubcacheError) return { code: typed.code, message: typed.message, ...(typed.hint ? { hint: typed.hint } : {}) };
  return { code: 'E_INTERNAL', message: err instanceof Error ? err.message : String(err) };
}

function prefixEvents(params: { repo: string; onEvent: (event: DownloadEvent) => void }): (event: DownloadEvent) => void {
  return (event) => params.onEvent({ ...event, path: event.path ? `${params.repo}/${event.path}` : params.repo });
}
