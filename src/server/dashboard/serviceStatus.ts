/**
 * Per service of the manifest: each stable link, the revision it points to, whether it resolves,
 * and whether it is behind the ref it follows; plus the bytes the service's models hold (for the
 * "size by service" chart). Reads links and refs only, never writes.
 */
import { readlink, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { CacheScan } from '../../cache/scanCache.js';
import { formatRepoRef, repoFolderName } from '../../cache/repoId.js';
import { isCommitHash } from '../../cache/revision.js';
import type { Manifest } from '../../manifest/manifest.js';
import { serviceLinkPath } from '../../manifest/serviceLinkPath.js';

export interface LinkStatus {
  service: string;
  name: string;
  path: string;
  env: string | undefined;
  repo: string;
  /** What the manifest asks for (branch, tag or commit). */
  revision: string;
  /** The commit the link's target is in, read from its `snapshots/<commit>/` part. */
  commit: string | undefined;
  /** The commit the cache's ref for `revision` names now (a commit revision is itself). */
  refCommit: string | undefined;
  state: 'ok' | 'missing' | 'dangling' | 'behind';
  message: string;
}

export interface ServiceStatus {
  name: string;
  ok: boolean;
  repos: string[];
  /** Unique bytes of the cached repos the service uses. */
  sizeOnDisk: number;
  links: LinkStatus[];
}

export async function serviceStatus(params: { manifest: Manifest | undefined; hfHome: string; scan: CacheScan | undefined }): Promise<ServiceStatus[]> {
  const { manifest } = params;
  if (!manifest) return [];
  const repos = new Map((params.scan?.repos ?? []).map((r) => [r.folderName, r]));
  return Promise.all(
    manifest.services.map(async (service) => {
      const links: LinkStatus[] = [];
      /** Repo folder -> the repo as users write it. */
      const folders = new Map<string, string>();
      for (const model of service.models) {
        const folder = repoFolderName(model);
        folders.set(folder, formatRepoRef(model));
        const cached = repos.get(folder);
        const refCommit = isCommitHash(model.revision) ? model.revision : cached?.refs[model.revision];
        for (const link of model.links) {
          const path = serviceLinkPath({ hfHome: params.hfHome, service: service.name, name: link.name });
          links.push({
            ...(await linkState({ path, refCommit })),
            service: service.name,
            name: link.name,
            path,
            env: link.env,
            repo: formatRepoRef(model),
            revision: model.revision,
            refCommit,
          });
        }
      }
      const sizeOnDisk = [...folders.keys()].reduce((sum, f) => sum + (repos.get(f)?.sizeOnDisk ?? 0), 0);
      return {
        name: service.name,
        ok: links.every((l) => l.state === 'ok'),
        repos: [...folders.values()],
        sizeOnDisk,
        links,
      };
    }),
  );
}

async function linkState(params: { path: string; refCommit: string | undefined }): Promise<Pick<LinkStatus, 'commit' | 'state' | 'message'>> {
  const text = await readlink(params.path).catch(() => undefined);
  if (text === undefined) return { commit: undefined, state: 'missing', message: 'no link yet: run sync' };
  const target = resolve(dirname(params.path), text);
  const commit = /\/snapshots\/([0-9a-f]{40})(?:\/|$)/.exec(target)?.[1];
  const resolves = await stat(params.path).then(
    () => true,
    () => false,
  );
  if (!resolves) return { commit, state: 'dangling', message: `points to ${text}, which does not exist` };
  if (commit !== undefined && params.refCommit !== undefined && commit !== params.refCommit) {
    return { commit, state: 'behind', message: `the ref now names ${params.refCommit.slice(0, 12)}: run sync to move the link` };
  }
  return { commit, state: 'ok', message: 'resolves' };
}
