/**
 * `hubcache compose check`: finds the ways a compose stack silently stops
 * sharing its Hugging Face cache, or points services at paths that do not
 * exist, and says how to fix each, with the line it is on.
 *
 * The cache volume is the one services keep HF_HOME/HF_HUB_CACHE on (a vote
 * over services, plus the manifest's hf_home), else a volume named like
 * "hf"/"huggingface", else the one named by `volume`. Paths are compared as
 * seen from inside each container; whether a path resolves is checked only
 * when the volume's content is reachable here: a bind mount's host folder, or
 * `localHfHome` (the local path of the volume's HF_HOME).
 */
import type { ComposeCheckResult, ComposeFinding, CheckComposeParams } from './composeFinding.js';
import type { CacheUser, ComposeCheckContext, FindingInput } from './composeCheckContext.js';
import { checkHubLocations, checkMountPaths, checkUnmountedCacheUsers } from './checkCacheMounts.js';
import { checkManifestServices } from './checkManifestServices.js';
import { checkModelPaths } from './checkModelPaths.js';
import { majority } from './composePaths.js';
import { findCacheVolume, type CacheVolume } from './findCacheVolume.js';
import { hfView, type HfView } from './hfView.js';
import type { ComposeFile, ComposePosition } from './parseComposeFile.js';

export type { ComposeFindingCode, ComposeFinding, CheckComposeParams, ComposeCheckResult } from './composeFinding.js';

export async function checkCompose(params: CheckComposeParams): Promise<ComposeCheckResult> {
  const { compose, manifest } = params;
  const findings: ComposeFinding[] = [];
  const add = (f: FindingInput): void => {
    const { at, ...rest } = f;
    findings.push({ ...rest, file: at.file, line: at.line, column: at.column });
  };
  const views = new Map(compose.services.map((s) => [s.name, hfView(s)]));
  const volume = findCacheVolume({ compose, views, manifest, volume: params.volume });
  const fileStart: ComposePosition = { file: compose.displayPath, line: 1, column: 1 };

  if (!manifest) {
    add({ code: 'no-manifest', severity: 'note', service: undefined, at: fileStart, message: 'no hubcache.yaml found: checks against the manifest were skipped', fix: 'Pass -f hubcache.yaml (or set $HUBCACHE_MANIFEST) to check that manifest services mount the cache and use declared links.' });
  }
  for (const service of compose.services) {
    for (const envFile of service.envFiles) {
      if (!envFile.found && envFile.required) {
        const inManifest = manifest?.services.some((s) => s.name === service.name) === true;
        add({
          code: 'env-file-missing',
          severity: 'problem',
          service: service.name,
          at: envFile.at,
          message: `${service.name}: env_file ${envFile.path} does not exist, so \`docker compose up\` fails`,
          fix: inManifest
            ? `Write it with \`hubcache env ${service.name} > ${envFile.path}\` (link paths never change, so it is written once).`
            : 'Create it, mark it `required: false`, or remove the entry.',
        });
      }
    }
  }
  if (!volume) {
    const needed = Boolean(manifest && manifest.services.length > 0) || [...views.values()].some((v) => v.hub !== undefined);
    add({
      code: 'no-cache-volume',
      severity: needed ? 'problem' : 'note',
      service: undefined,
      at: fileStart,
      message: 'no service mounts a volume holding the Hugging Face cache (no mount contains HF_HOME/HF_HUB_CACHE, no volume named like "hf-cache")',
      fix: 'Declare a named volume (e.g. `volumes: { hf-cache: {} }`), mount it in every service that uses models (`- hf-cache:/data/.huggingface`) and set HF_HOME=/data/.huggingface; or name the volume with --volume.',
    });
    return finish({ compose, volume: undefined, findings });
  }

  const users: CacheUser[] = compose.services.flatMap((service) => {
    const mount = service.mounts.find((m) => m.key === volume.key);
    return mount ? [{ service, mount, view: views.get(service.name) as HfView }] : [];
  });
  const targetOf = majority(users.map((u) => u.mount.target), manifest?.hfHome);
  volume.target = targetOf;
  volume.services = users.map((u) => u.service.name);

  // The steps, in the order their findings matter: each adds its findings through `add`.
  const context: ComposeCheckContext = { compose, manifest, views, volume, users, targetOf, add };
  checkMountPaths(context);
  checkHubLocations(context);
  checkUnmountedCacheUsers(context);
  checkManifestServices(context);
  await checkModelPaths({ ...context, localHfHome: params.localHfHome, fileStart });
  return finish({ compose, volume, findings });
}

function finish(params: { compose: ComposeFile; volume: CacheVolume | undefined; findings: ComposeFinding[] }): ComposeCheckResult {
  const findings = params.findings.sort((a, b) => (a.severity === b.severity ? 0 : a.severity === 'problem' ? -1 : 1) || a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column);
  const v = params.volume;
  return {
    file: params.compose.path,
    cacheVolume: v ? { key: v.key, label: v.label, target: v.target, services: v.services } : undefined,
    findings,
    problems: findings.filter((f) => f.severity === 'problem').length,
    notes: findings.filter((f) => f.severity === 'note').length,
  };
}
