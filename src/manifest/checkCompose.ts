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
import { stat } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { formatRepoRef, parseRepoFolderName, type RepoRef } from '../cache/repoId.js';
import { isCommitHash } from '../cache/revision.js';
import type { Manifest } from './manifest.js';
import type { ComposeEnvVar, ComposeFile, ComposeMount, ComposePosition, ComposeService, ComposeWord } from './parseComposeFile.js';
import { LINKS_DIR_NAME } from './serviceLinkPath.js';

export type ComposeFindingCode =
  | 'no-cache-volume'
  | 'mount-path-differs'
  | 'different-cache-volume'
  | 'hf-home-unset'
  | 'hf-home-outside-mount'
  | 'hf-home-differs'
  | 'hf-home-without-mount'
  | 'env-value-unknown'
  | 'manifest-service-missing'
  | 'manifest-service-not-mounted'
  | 'manifest-hf-home-differs'
  | 'snapshot-not-a-commit'
  | 'snapshot-commit-path'
  | 'link-not-declared'
  | 'env-file-missing'
  | 'path-unresolved'
  | 'paths-not-checked'
  | 'no-manifest';

export interface ComposeFinding {
  code: ComposeFindingCode;
  /** Problems make the check fail; notes are context. */
  severity: 'problem' | 'note';
  service: string | undefined;
  file: string;
  line: number;
  column: number;
  message: string;
  fix: string | undefined;
}

export interface CheckComposeParams {
  compose: ComposeFile;
  manifest?: Manifest | undefined;
  /** Local folder holding the volume's HF_HOME content, to check that paths resolve. */
  localHfHome?: string | undefined;
  /** The cache volume's name, when the file does not make it clear. */
  volume?: string | undefined;
}

export interface ComposeCheckResult {
  file: string;
  cacheVolume: { key: string; label: string; target: string | undefined; services: string[] } | undefined;
  findings: ComposeFinding[];
  problems: number;
  notes: number;
}

/** Variables that name the cache itself (a folder that may not exist yet), not a model. */
const CACHE_VARS = new Set(['HF_HOME', 'HF_HUB_CACHE', 'HUGGINGFACE_HUB_CACHE', 'TRANSFORMERS_CACHE', 'HF_DATASETS_CACHE', 'HF_ASSETS_CACHE', 'XDG_CACHE_HOME', 'HF_TOKEN_PATH', 'SENTENCE_TRANSFORMERS_HOME', 'TORCH_HOME']);
/** MODEL_PATH, WHISPER_MODEL_DIR, LLAMA_ARG_MODEL, CHECKPOINT_FILE... */
const PATH_LIKE_NAME = /(PATH|DIR|FILE|MODEL|CHECKPOINT|WEIGHTS|CKPT)/;
const NOT_MODEL_PATHS = new Set(['PATH', 'LD_LIBRARY_PATH', 'PYTHONPATH', 'LIBRARY_PATH', 'MANPATH']);

interface HfView {
  /** HF_HOME in the container (explicit, or implied by HF_HUB_CACHE=<home>/hub). */
  home: string | undefined;
  /** The hub cache folder in the container. */
  hub: string | undefined;
  /** The variable that decides it, to point findings at. */
  decidedBy: ComposeEnvVar | undefined;
  /** A cache variable is set but its value comes from outside the file. */
  unknown: ComposeEnvVar | undefined;
}

export async function checkCompose(params: CheckComposeParams): Promise<ComposeCheckResult> {
  const { compose, manifest } = params;
  const findings: ComposeFinding[] = [];
  const add = (f: Omit<ComposeFinding, 'file' | 'line' | 'column'> & { at: ComposePosition }): void => {
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

  const users = compose.services.flatMap((service) => {
    const mount = service.mounts.find((m) => m.key === volume.key);
    return mount ? [{ service, mount, view: views.get(service.name) as HfView }] : [];
  });
  const targetOf = majority(users.map((u) => u.mount.target), manifest?.hfHome);
  volume.target = targetOf;
  volume.services = users.map((u) => u.service.name);

  // 1. One mount path for the cache everywhere, so paths (and link paths) mean the same in every container.
  for (const user of users) {
    if (targetOf === undefined || user.mount.target === targetOf) continue;
    const others = users.filter((u) => u.mount.target === targetOf).map((u) => u.service.name);
    add({
      code: 'mount-path-differs',
      severity: 'problem',
      service: user.service.name,
      at: user.mount.at,
      message: `${user.service.name} mounts ${volume.label} at ${user.mount.target}, but ${others.join(', ')} mount${others.length === 1 ? 's' : ''} it at ${targetOf}: the same file has a different path in each container`,
      fix: `Mount it as \`- ${volume.short}:${targetOf}\` and set HF_HOME to the same value as the other services.`,
    });
  }

  // 2. HF_HOME / HF_HUB_CACHE: on the volume, and at the same place in it for every service.
  const relHubs = new Map<string, string>();
  for (const user of users) {
    const { service, mount, view } = user;
    if (view.unknown) {
      add({ code: 'env-value-unknown', severity: 'note', service: service.name, at: view.unknown.at, message: `${service.name}: ${view.unknown.name} comes from the host environment or an undefined variable; it was not checked`, fix: undefined });
      continue;
    }
    const hub = view.hub ?? defaultHub(mount.target);
    if (hub === undefined) {
      add({
        code: 'hf-home-unset',
        severity: 'problem',
        service: service.name,
        at: mount.at,
        message: `${service.name} mounts ${volume.label} at ${mount.target} but sets neither HF_HOME nor HF_HUB_CACHE: Hugging Face libraries use ~/.cache/huggingface/hub, which is not on the volume`,
        fix: `Add \`HF_HOME=${mount.target}\` to its environment.`,
      });
      continue;
    }
    if (!isWithin(mount.target, hub)) {
      add({
        code: 'hf-home-outside-mount',
        severity: 'problem',
        service: service.name,
        at: view.decidedBy?.at ?? mount.at,
        message: `${service.name}: ${view.decidedBy?.name ?? 'the default cache'} puts the hub cache at ${hub}, outside the ${volume.label} mount (${mount.target}): its downloads stay in the container and are not shared`,
        fix: `Set \`HF_HOME=${mount.target}\` (or mount the volume at ${view.home ?? posix.dirname(hub)}).`,
      });
      continue;
    }
    relHubs.set(service.name, posix.relative(mount.target, hub));
  }
  const relHub = majority([...relHubs.values()], undefined);
  for (const user of users) {
    const rel = relHubs.get(user.service.name);
    if (rel === undefined || relHub === undefined || rel === relHub) continue;
    const agreeing = [...relHubs].filter(([, r]) => r === relHub).map(([name]) => name);
    const want = posix.join(user.mount.target, relHub);
    add({
      code: 'hf-home-differs',
      severity: 'problem',
      service: user.service.name,
      at: user.view.decidedBy?.at ?? user.mount.at,
      message: `${user.service.name} keeps its hub cache at ${posix.join(user.mount.target, rel)} (${volume.label}:/${rel}), but ${agreeing.join(', ')} use ${volume.label}:/${relHub}: they download the same models twice`,
      fix: posix.basename(want) === 'hub' ? `Set \`HF_HOME=${posix.dirname(want)}\` (and drop HF_HUB_CACHE).` : `Set \`HF_HUB_CACHE=${want}\`.`,
    });
  }

  // 3. Services that set a cache path without mounting the cache.
  const manifestNames = new Set(manifest?.services.map((s) => s.name) ?? []);
  for (const service of compose.services) {
    if (users.some((u) => u.service === service) || manifestNames.has(service.name)) continue;
    const view = views.get(service.name) as HfView;
    if (view.hub === undefined || !view.decidedBy) continue;
    const other = mountContaining(service, view.home ?? view.hub);
    add({
      code: other?.key ? 'different-cache-volume' : 'hf-home-without-mount',
      severity: 'problem',
      service: service.name,
      at: view.decidedBy.at,
      message: other?.key
        ? `${service.name} keeps its Hugging Face cache on ${other.key.replace(/^volume:/, 'volume ').replace(/^bind:/, 'host folder ')}, not on ${volume.label} like ${volume.services.join(', ')}: downloads are not shared`
        : `${service.name} sets ${view.decidedBy.name}=${view.decidedBy.value} but does not mount ${volume.label}: its downloads land inside the container and vanish with it`,
      fix: `Mount \`- ${volume.short}:${targetOf ?? '/data/.huggingface'}\` and point ${view.decidedBy.name} inside it, like the other services.`,
    });
  }

  // 4. The manifest's services must mount the cache, and see it where the manifest says.
  for (const declared of manifest?.services ?? []) {
    const service = compose.services.find((s) => s.name === declared.name);
    const manifestAt: ComposePosition = { file: manifest?.displayPath ?? 'hubcache.yaml', line: declared.at.line, column: declared.at.column };
    if (!service) {
      add({ code: 'manifest-service-missing', severity: 'note', service: declared.name, at: manifestAt, message: `service ${declared.name} of the manifest is not in ${compose.displayPath}`, fix: undefined });
      continue;
    }
    const user = users.find((u) => u.service === service);
    if (!user) {
      add({
        code: 'manifest-service-not-mounted',
        severity: 'problem',
        service: service.name,
        at: service.at,
        message: `${service.name} needs models (it is in ${manifest?.displayPath}) but does not mount ${volume.label}: its model paths do not exist in the container`,
        fix: `Add \`- ${volume.short}:${targetOf ?? '/data/.huggingface'}\` to its volumes and \`HF_HOME=${manifest?.hfHome ?? targetOf ?? '/data/.huggingface'}\` to its environment.`,
      });
      continue;
    }
    const home = user.view.home ?? (user.view.hub === undefined ? defaultHome(user.mount.target) : undefined);
    if (manifest?.hfHome !== undefined && home !== undefined && home !== manifest.hfHome && !user.view.unknown) {
      add({
        code: 'manifest-hf-home-differs',
        severity: 'problem',
        service: service.name,
        at: user.view.decidedBy?.at ?? user.mount.at,
        message: `${manifest.displayPath} says hf_home: ${manifest.hfHome}, but ${service.name} sees the cache at ${home}: the link paths \`hubcache env\` prints do not exist in this container`,
        fix: `Use the same path in both: set \`hf_home: ${home}\` in ${manifest.displayPath}, or mount the cache and HF_HOME at ${manifest.hfHome}.`,
      });
    }
  }

  // 5. Model paths: no made-up snapshot names, links that are declared, paths that resolve.
  let unmapped = 0;
  for (const service of compose.services) {
    const user = users.find((u) => u.service === service);
    const view = views.get(service.name) as HfView;
    const home = view.home ?? (user ? (defaultHome(user.mount.target) ?? user.mount.target) : undefined);
    const seen = new Set<string>();
    for (const candidate of pathCandidates(service)) {
      // `environment` overrides `env_file`: only the first definition of a name is what the service gets.
      if (candidate.name !== undefined) {
        if (seen.has(candidate.name)) continue;
        seen.add(candidate.name);
      }
      const label = candidate.name !== undefined ? `${candidate.name}=${candidate.value}` : `command argument ${candidate.value}`;
      const snapshot = parseSnapshotPath(candidate.value);
      if (snapshot && !isCommitHash(snapshot.revision)) {
        const link = manifestLinkFor({ manifest, service: service.name, repo: snapshot.repo, path: snapshot.path });
        const linkName = link?.name ?? (snapshot.path ? posix.basename(snapshot.path) : 'model');
        const stable = posix.join(manifest?.hfHome ?? home ?? '/data/.huggingface', LINKS_DIR_NAME, service.name, linkName);
        add({
          code: 'snapshot-not-a-commit',
          severity: 'problem',
          service: service.name,
          at: candidate.at,
          message: `${service.name}: ${label} points into snapshots/${snapshot.revision}/, which never exists: snapshots/ holds one folder per commit hash`,
          fix: link
            ? `Use the stable link hubcache sync maintains: ${candidate.name ?? 'the path'}=${stable}.`
            : `Declare it in hubcache.yaml under ${service.name}: \`- repo: ${snapshot.repo ? formatRepoRef(snapshot.repo) : 'ORG/NAME'}${snapshot.path ? `\n    files: [${snapshot.path}]` : ''}\n    link: { name: ${linkName}${candidate.name ? `, env: ${candidate.name}` : ''} }\`, run \`hubcache sync\`, and use ${stable} (it follows the revision).`,
        });
        continue;
      }
      if (snapshot && isCommitHash(snapshot.revision)) {
        add({ code: 'snapshot-commit-path', severity: 'note', service: service.name, at: candidate.at, message: `${service.name}: ${label} hard-codes commit ${snapshot.revision.slice(0, 12)}; it will not follow the revision`, fix: 'Declare a link in hubcache.yaml and use its stable path instead.' });
      }
      if (manifest && home !== undefined && isWithin(posix.join(home, LINKS_DIR_NAME), candidate.value)) {
        const [linkService, linkName] = posix.relative(posix.join(home, LINKS_DIR_NAME), candidate.value).split('/');
        const declared = manifest.services.find((s) => s.name === linkService)?.models.flatMap((m) => m.links).find((l) => l.name === linkName);
        if (!declared) {
          // A declared link with this env name is most likely what was meant.
          const sameEnv = candidate.name === undefined ? undefined : manifest.services.find((s) => s.name === service.name)?.models.flatMap((m) => m.links).find((l) => l.env === candidate.name);
          add({
            code: 'link-not-declared',
            severity: 'problem',
            service: service.name,
            at: candidate.at,
            message: `${service.name}: ${label} names link ${linkService}/${linkName ?? ''}, which ${manifest.displayPath} does not declare: hubcache sync will never create it`,
            fix: sameEnv
              ? `Use the declared link: ${candidate.name}=${posix.join(home, LINKS_DIR_NAME, service.name, sameEnv.name)} (\`hubcache env ${service.name}\` prints it).`
              : `Add \`link: { name: ${linkName ?? 'NAME'}${candidate.name ? `, env: ${candidate.name}` : ''} }\` to the model of service ${linkService} in ${manifest.displayPath}.`,
          });
          continue;
        }
      }
      if (!user || !isWithin(user.mount.target, candidate.value)) continue;
      const local = localPath({ mount: user.mount, home, localHfHome: params.localHfHome, path: candidate.value });
      if (local === undefined) {
        unmapped += 1;
        continue;
      }
      if (await stat(local).then(() => true, () => false)) continue;
      const underLinks = home !== undefined && isWithin(posix.join(home, LINKS_DIR_NAME), candidate.value);
      add({
        code: 'path-unresolved',
        severity: 'problem',
        service: service.name,
        at: candidate.at,
        message: `${service.name}: ${label} does not resolve (checked ${local})`,
        fix: underLinks
          ? 'Run `hubcache sync` (the models service) so the link exists and points at a downloaded snapshot.'
          : snapshot?.repo
            ? `Download it (\`hubcache download ${formatRepoRef(snapshot.repo)} ${snapshot.path ?? ''} --revision ${snapshot.revision}\`), or better declare it in hubcache.yaml and use its link.`
            : 'Check the path; model files belong in hubcache.yaml with a link.',
      });
    }
  }
  if (unmapped > 0) {
    add({
      code: 'paths-not-checked',
      severity: 'note',
      service: undefined,
      at: fileStart,
      message: `${unmapped} path(s) on ${volume.label} were checked for patterns only: the volume's content is not reachable here`,
      fix: 'Pass --cache-dir with the local path of the volume\'s hub cache (e.g. the volume\'s _data/.huggingface/hub) to check that they resolve.',
    });
  }
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

interface CacheVolume {
  key: string;
  /** For messages: `volume hf-cache`, `host folder ./hf`. */
  label: string;
  /** For fixes: what goes left of ":" in a short mount. */
  short: string;
  target: string | undefined;
  services: string[];
}

function hfView(service: ComposeService): HfView {
  const first = (name: string): ComposeEnvVar | undefined => service.env.find((e) => e.name === name);
  const homeVar = first('HF_HOME');
  const hubVar = first('HF_HUB_CACHE') ?? first('HUGGINGFACE_HUB_CACHE');
  const unknown = [hubVar, homeVar].find((v) => v !== undefined && (v.value === undefined || !v.value.startsWith('/')));
  if (unknown) return { home: undefined, hub: undefined, decidedBy: unknown, unknown };
  const home = homeVar?.value !== undefined ? posix.normalize(homeVar.value).replace(/\/$/, '') : undefined;
  const hub = hubVar?.value !== undefined ? posix.normalize(hubVar.value).replace(/\/$/, '') : home !== undefined ? posix.join(home, 'hub') : undefined;
  const impliedHome = home ?? (hub !== undefined && posix.basename(hub) === 'hub' ? posix.dirname(hub) : undefined);
  return { home: impliedHome, hub, decidedBy: hubVar ?? homeVar, unknown: undefined };
}

function findCacheVolume(params: { compose: ComposeFile; views: Map<string, HfView>; manifest: Manifest | undefined; volume: string | undefined }): CacheVolume | undefined {
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

function mountContaining(service: ComposeService, path: string): ComposeMount | undefined {
  let best: ComposeMount | undefined;
  for (const mount of service.mounts) {
    if (mount.key === undefined || !isWithin(mount.target, path)) continue;
    if (!best || mount.target.length > best.target.length) best = mount;
  }
  return best;
}

/** `path` is `root` or inside it (container paths: POSIX). */
function isWithin(root: string, path: string): boolean {
  const rel = posix.relative(posix.normalize(root), posix.normalize(path));
  return rel === '' || (!rel.startsWith('../') && rel !== '..' && !posix.isAbsolute(rel));
}

/** The most common value; ties go to `preferred`, then to the first seen. */
function majority(values: string[], preferred: string | undefined): string | undefined {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  let best: string | undefined;
  for (const [v, n] of counts) {
    const bestN = best === undefined ? -1 : (counts.get(best) as number);
    if (n > bestN || (n === bestN && v === preferred)) best = v;
  }
  return best;
}

/** Without HF_* variables, huggingface_hub uses ~/.cache/huggingface: fine when that is the mount. */
function defaultHub(target: string): string | undefined {
  if (/\/\.cache\/huggingface\/?$/.test(target)) return posix.join(target, 'hub');
  if (/\/\.cache\/huggingface\/hub\/?$/.test(target)) return posix.normalize(target);
  return undefined;
}

function defaultHome(target: string): string | undefined {
  const hub = defaultHub(target);
  return hub === undefined ? undefined : posix.dirname(hub);
}

interface PathCandidate {
  name: string | undefined;
  value: string;
  at: ComposePosition;
}

function pathCandidates(service: ComposeService): PathCandidate[] {
  const out: PathCandidate[] = [];
  for (const v of service.env) {
    if (v.value === undefined || CACHE_VARS.has(v.name) || NOT_MODEL_PATHS.has(v.name)) continue;
    const value = v.value.trim();
    if (!value.startsWith('/')) continue;
    if (PATH_LIKE_NAME.test(v.name) || value.includes('/snapshots/') || value.includes(`/${LINKS_DIR_NAME}/`)) out.push({ name: v.name, value, at: v.at });
  }
  for (const word of service.command as ComposeWord[]) {
    // `--model=/path` as well as `-m /path`.
    const value = word.value.includes('=') && word.value.startsWith('-') ? word.value.slice(word.value.indexOf('=') + 1) : word.value;
    if (value.startsWith('/')) out.push({ name: undefined, value, at: word.at });
  }
  return out;
}

/** `.../<type>s--org--name/snapshots/<revision>[/<path>]`. */
function parseSnapshotPath(value: string): { repo: RepoRef | undefined; revision: string; path: string | undefined } | undefined {
  const match = /(?:^|\/)([^/]+)\/snapshots\/([^/]+)(?:\/(.+))?$/.exec(value);
  if (!match) return undefined;
  return { repo: parseRepoFolderName({ name: match[1] as string }), revision: match[2] as string, path: match[3]?.replace(/\/$/, '') };
}

function manifestLinkFor(params: { manifest: Manifest | undefined; service: string; repo: RepoRef | undefined; path: string | undefined }): { name: string } | undefined {
  const service = params.manifest?.services.find((s) => s.name === params.service);
  if (!service || !params.repo) return undefined;
  for (const model of service.models) {
    if (model.repoId !== params.repo.repoId || model.repoType !== params.repo.repoType) continue;
    const link = model.links.find((l) => (l.path ?? undefined) === params.path) ?? (params.path === undefined ? undefined : model.links.find((l) => l.path === undefined));
    if (link) return { name: link.name };
  }
  return undefined;
}

/** Where a container path on the cache volume is on this machine, if that can be known. */
function localPath(params: { mount: ComposeMount; home: string | undefined; localHfHome: string | undefined; path: string }): string | undefined {
  const { mount, path } = params;
  if (mount.type === 'bind' && mount.source !== undefined && mount.source.startsWith('/')) {
    return join(mount.source, posix.relative(mount.target, path));
  }
  if (params.localHfHome !== undefined && params.home !== undefined && isWithin(params.home, path)) {
    return join(params.localHfHome, posix.relative(params.home, path));
  }
  return undefined;
}
