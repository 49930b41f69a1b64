/**
 * `hubcache pull REPO[@REV]... --store`: chosen repos from a shared store into a local cache, for
 * hosts without a replica. Every file goes through `fetchBlob` from a presigned GET of its blob
 * object: the same lock, hash check and atomic rename as a download, then the snapshot link and
 * the ref, so a damaged object is refused and the cache reads like one `download` filled.
 */
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { formatRepoRef, type RepoRef } from '../cache/repoId.js';
import { isCommitHash } from '../cache/revision.js';
import { fetchBlob } from '../download/fetchBlob.js';
import { HubcacheError } from '../errors.js';
import { listStore } from './listStore.js';
import type { S3Connection } from './s3Connection.js';
import { s3Keys } from './s3Keys.js';

export interface PullFromStoreParams {
  conn: S3Connection;
  cacheDir: string;
  /** A revision (branch or commit) or, when absent, every commit the store holds for the repo. */
  repos: Array<{ repo: RepoRef; revision?: string }>;
  onFile?: (file: { repo: string; path: string; size: number; downloaded: boolean }) => void;
}

export interface PullFromStoreResult {
  files: number;
  bytesDownloaded: number;
  fromCache: number;
}

export async function pullFromStore(params: PullFromStoreParams): Promise<PullFromStoreResult> {
  const { conn } = params;
  const keys = s3Keys({ prefix: conn.prefix });
  const listing = await listStore({ conn, repos: params.repos.map((r) => r.repo) });
  const result: PullFromStoreResult = { files: 0, bytesDownloaded: 0, fromCache: 0 };
  for (const wanted of params.repos) {
    const name = formatRepoRef(wanted.repo);
    const entry = listing.repos.find((r) => r.repo.repoId === wanted.repo.repoId && r.repo.repoType === wanted.repo.repoType);
    const commit =
      wanted.revision === undefined ? undefined : isCommitHash(wanted.revision) ? wanted.revision : entry?.refs.find((r) => r.revision === wanted.revision)?.commit;
    if (entry === undefined || (wanted.revision !== undefined && commit === undefined)) {
      throw new HubcacheError({ code: 'E_NOT_CACHED', message: `The store holds no ${name}${wanted.revision ? ` at ${wanted.revision}` : ''}` });
    }
    const commits = entry.commits.filter((c) => commit === undefined || c.commit === commit);
    if (commits.length === 0) throw new HubcacheError({ code: 'E_NOT_CACHED', message: `The store holds no files of ${name} at ${wanted.revision}` });
    for (const c of commits) {
      // The branch that names this commit gets its ref with the files (as a download would write it).
      const branch = wanted.revision !== undefined && !isCommitHash(wanted.revision) ? wanted.revision : entry.refs.find((r) => r.commit === c.commit)?.revision;
      for (const file of c.files) {
        if (!file.present) throw new HubcacheError({ code: 'E_NOT_CACHED', message: `The store lacks the blob of ${name} ${file.path} (${file.etag})` });
        const url = await getSignedUrl(conn.client, new GetObjectCommand({ Bucket: conn.bucket, Key: keys.blob(file.etag) }), { expiresIn: 3600 });
        const got = await fetchBlob({
          cacheDir: params.cacheDir,
          ...wanted.repo,
          revision: branch ?? c.commit,
          commit: c.commit,
          path: file.path,
          etag: file.etag,
          size: file.size,
          url,
          token: undefined,
        });
        result.files += 1;
        result.bytesDownloaded += got.bytesDownloaded;
        if (got.fromCache) result.fromCache += 1;
        params.onFile?.({ repo: name, path: file.path, size: file.size, downloaded: !got.fromCache });
      }
    }
  }
  return result;
}
