/**
 * Points a model's declared links at its resolved snapshot (or, in a dry run,
 * says what would change). A model that did not resolve keeps its old links,
 * so its service keeps the revision it had.
 */
import { lstat, readlink, stat } from 'node:fs/promises';
import { formatRepoRef } from '../cache/repoId.js';
import { repoPaths } from '../cache/repoPaths.js';
import type { ManifestModel, ManifestService } from './manifest.js';
import { errorFacts } from './resolveModel.js';
import { serviceLinkPath } from './serviceLinkPath.js';
import type { ModelOutcome, SyncLinkResult, SyncManifestParams, SyncModelResult } from './syncManifestTypes.js';
import { serviceLinkText, writeServiceLink } from './writeServiceLink.js';

export async function linkModel(args: { params: SyncManifestParams; service: ManifestService; model: ManifestModel; outcome: ModelOutcome }): Promise<SyncModelResult> {
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
