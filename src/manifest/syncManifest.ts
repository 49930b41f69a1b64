/**
 * Makes the cache match the manifest: every model a service needs is
 * downloaded if missing (present files cost at most a metadata request, no
 * body), then each declared link is pointed at the resolved snapshot. A model
 * that fails leaves its old link alone, so a service keeps the revision it had
 * until the new one is complete. Identical entries shared by several services
 * are fetched once; different entries run in parallel.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { HubcacheError } from '../errors.js';
import { recordAccess } from '../cache/accessLog.js';
import { formatRepoRef, parseRepoFolderName, repoFolderName } from '../cache/repoId.js';
import { assertServiceLinkFolder } from './assertServiceLinkFolder.js';
import { linkModel } from './linkModel.js';
import type { Manifest, ManifestModel, ManifestService } from './manifest.js';
import { resolveModel } from './resolveModel.js';
import { LINKS_DIR_NAME } from './serviceLinkPath.js';
import { staleServiceLinks } from './staleServiceLinks.js';
import type { ModelOutcome, SyncManifestParams, SyncManifestResult, SyncModelResult, SyncServiceResult } from './syncManifestTypes.js';
import { quoteInput } from '../quoteInput.js';

export type { SyncLinkResult, SyncManifestParams, SyncManifestResult, SyncModelResult, SyncServiceResult, SyncStatus } from './syncManifestTypes.js';

export async function syncManifest(params: SyncManifestParams): Promise<SyncManifestResult> {
  const services = selectServices({ manifest: params.manifest, names: params.services });
  const dryRun = params.dryRun === true;
  // Before anything is fetched or linked: a linked links/ folder would have us write (and delete) elsewhere.
  for (const service of services) await assertServiceLinkFolder({ serviceDir: join(params.hfHome, LINKS_DIR_NAME, service.name) });
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
        outcomes.set(job.model, await resolveModel({ params, model: job.model }));
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
