/**
 * Step 5 of `checkCompose`: model paths in environments and commands. No
 * made-up snapshot names, links that are declared, paths that resolve (when
 * the volume's content is reachable here: a bind mount's host folder, or
 * `localHfHome`).
 */
import { stat } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { formatRepoRef, parseRepoFolderName, type RepoRef } from '../cache/repoId.js';
import { isCommitHash } from '../cache/revision.js';
import type { Manifest } from '../manifest/manifest.js';
import { LINKS_DIR_NAME } from '../manifest/serviceLinkPath.js';
import type { ComposeCheckContext } from './composeCheckContext.js';
import { defaultHome, isWithin } from './composePaths.js';
import type { HfView } from './hfView.js';
import type { ComposeMount, ComposePosition, ComposeService, ComposeWord } from './parseComposeFile.js';

/** Variables that name the cache itself (a folder that may not exist yet), not a model. */
const CACHE_VARS = new Set(['HF_HOME', 'HF_HUB_CACHE', 'HUGGINGFACE_HUB_CACHE', 'TRANSFORMERS_CACHE', 'HF_DATASETS_CACHE', 'HF_ASSETS_CACHE', 'XDG_CACHE_HOME', 'HF_TOKEN_PATH', 'SENTENCE_TRANSFORMERS_HOME', 'TORCH_HOME']);
/** MODEL_PATH, WHISPER_MODEL_DIR, LLAMA_ARG_MODEL, CHECKPOINT_FILE... */
const PATH_LIKE_NAME = /(PATH|DIR|FILE|MODEL|CHECKPOINT|WEIGHTS|CKPT)/;
const NOT_MODEL_PATHS = new Set(['PATH', 'LD_LIBRARY_PATH', 'PYTHONPATH', 'LIBRARY_PATH', 'MANPATH']);

export async function checkModelPaths(context: ComposeCheckContext & { localHfHome: string | undefined; fileStart: ComposePosition }): Promise<void> {
  const { compose, manifest, users, views, volume, add, localHfHome, fileStart } = context;
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
      const local = localPath({ mount: user.mount, home, localHfHome, path: candidate.value });
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
