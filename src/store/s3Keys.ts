/**
 * The object layout of the shared store (pure). Everything a replica needs is addressed by
 * content or by an immutable commit, except branch answers (`refs/`, carrying their fetch time)
 * and the short-lived fill objects (`fills/`):
 *
 *   blobs/sha256/<hex>, blobs/sha1/<oid>           complete, verified blobs (the only thing served as final)
 *   files/<repo folder>/<commit>/<path>           {"etag","size"}: what a file is at a commit
 *   refs/<repo folder>/<revision>                 {"commit","fetchedAt"}: a branch answer and its age
 *   meta/<key>                                    commit-keyed Hub answers (trees, paths-info, info)
 *   fills/<algo>/<etag>/lease                     who fills this blob now, until when (see s3Lease)
 *   fills/<algo>/<etag>/part-<n>                  the fill's parts as they land (followers read them)
 */
import { hashAlgorithmForBlobName } from '../cache/etag.js';
import { repoFolderName, type RepoRef } from '../cache/repoId.js';
import { HubcacheError } from '../errors.js';

export interface S3Keys {
  blob(etag: string): string;
  fillPrefix(etag: string): string;
  lease(etag: string): string;
  part(etag: string, index: number): string;
  file(repo: RepoRef, commit: string, path: string): string;
  filesPrefix(repo?: RepoRef): string;
  ref(repo: RepoRef, revision: string): string;
  refsPrefix(repo?: RepoRef): string;
  meta(key: string): string;
  blobsPrefix(): string;
  /** The etag a blob key names (undefined for anything else). */
  etagOfBlobKey(key: string): string | undefined;
}

export function s3Keys(params: { prefix: string }): S3Keys {
  const p = params.prefix;
  const algoDir = (etag: string): string => {
    const algorithm = hashAlgorithmForBlobName({ name: etag });
    if (algorithm === undefined) throw new HubcacheError({ code: 'E_INTERNAL', message: `not a content hash: ${etag.slice(0, 80)}` });
    return algorithm === 'sha256' ? 'sha256' : 'sha1';
  };
  return {
    blob: (etag) => `${p}blobs/${algoDir(etag)}/${etag}`,
    fillPrefix: (etag) => `${p}fills/${algoDir(etag)}/${etag}/`,
    lease: (etag) => `${p}fills/${algoDir(etag)}/${etag}/lease`,
    part: (etag, index) => `${p}fills/${algoDir(etag)}/${etag}/part-${String(index).padStart(5, '0')}`,
    file: (repo, commit, path) => `${p}files/${repoFolderName(repo)}/${commit}/${path}`,
    filesPrefix: (repo) => `${p}files/${repo ? `${repoFolderName(repo)}/` : ''}`,
    ref: (repo, revision) => `${p}refs/${repoFolderName(repo)}/${revision}`,
    refsPrefix: (repo) => `${p}refs/${repo ? `${repoFolderName(repo)}/` : ''}`,
    meta: (key) => `${p}meta/${key}`,
    blobsPrefix: () => `${p}blobs/`,
    etagOfBlobKey: (key) => {
      const match = /blobs\/(sha256|sha1)\/([0-9a-f]+)$/.exec(key.slice(p.length));
      if (!match) return undefined;
      const etag = match[2]!;
      const algorithm = hashAlgorithmForBlobName({ name: etag });
      return (match[1] === 'sha256' && algorithm === 'sha256') || (match[1] === 'sha1' && algorithm === 'git-sha1') ? etag : undefined;
    },
  };
}
