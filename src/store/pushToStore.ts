/**
 * `hubcache push REPO... --store`: chosen repos of a local cache into a shared store, so replicas
 * serve them without upstream and hosts without a replica can `pull` them. Each blob the store
 * lacks is uploaded hashed (uploadBlobFile: visible only when its hash is its name), then the file
 * records and refs that make it findable by commit and branch.
 */
import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { repoFolderName, type RepoRef } from '../cache/repoId.js';
import { scanCache } from '../cache/scanCache.js';
import { HubcacheError } from '../errors.js';
import { isS3NotFound, type S3Connection } from './s3Connection.js';
import { s3Keys } from './s3Keys.js';
import { uploadBlobFile } from './s3UploadFile.js';
import { DEFAULT_PART_SIZE } from './s3Defaults.js';

export interface PushToStoreParams {
  conn: S3Connection;
  cacheDir: string;
  repos: RepoRef[];
  partSize?: number;
  onFile?: (file: { repo: string; path: string; size: number; uploaded: boolean }) => void;
}

export interface PushToStoreResult {
  files: number;
  blobsUploaded: number;
  bytesUploaded: number;
  blobsAlreadyThere: number;
  refs: number;
}

export async function pushToStore(params: PushToStoreParams): Promise<PushToStoreResult> {
  const { conn } = params;
  const keys = s3Keys({ prefix: conn.prefix });
  const partSize = params.partSize ?? DEFAULT_PART_SIZE;
  const folders = params.repos.map((repo) => repoFolderName(repo));
  const scan = await scanCache({ cacheDir: params.cacheDir, repos: folders, detail: 'files' });
  const result: PushToStoreResult = { files: 0, blobsUploaded: 0, bytesUploaded: 0, blobsAlreadyThere: 0, refs: 0 };
  const done = new Set<string>();
  for (const folder of folders) {
    const repo = scan.repos.find((r) => r.folderName === folder);
    if (repo === undefined) throw new HubcacheError({ code: 'E_NOT_CACHED', message: `${folder} is not in the cache ${params.cacheDir}` });
    const ref: RepoRef = { repoType: repo.repoType, repoId: repo.repoId };
    for (const revision of repo.revisions) {
      for (const file of revision.files) {
        if (file.blobName === undefined || file.blobPath === undefined || file.problem !== undefined) continue;
        const etag = file.blobName;
        let uploaded = false;
        if (!done.has(etag)) {
          const there = await conn.client.send(new HeadObjectCommand({ Bucket: conn.bucket, Key: keys.blob(etag) })).then(
            (head) => head.ContentLength === file.size,
            (err: unknown) => (isS3NotFound(err) ? false : Promise.reject(err)),
          );
          if (there) result.blobsAlreadyThere += 1;
          else {
            await uploadBlobFile({ conn, keys, etag, size: file.size, path: file.blobPath, partSize });
            result.blobsUploaded += 1;
            result.bytesUploaded += file.size;
            uploaded = true;
          }
          done.add(etag);
        }
        await conn.client.send(new PutObjectCommand({ Bucket: conn.bucket, Key: keys.file(ref, revision.commit, file.path), Body: JSON.stringify({ etag, size: file.size }), ContentType: 'application/json' }));
        result.files += 1;
        params.onFile?.({ repo: folder, path: file.path, size: file.size, uploaded });
      }
    }
    for (const [name, commit] of Object.entries(repo.refs)) {
      if (!repo.revisions.some((r) => r.commit === commit)) continue;
      await conn.client.send(new PutObjectCommand({ Bucket: conn.bucket, Key: keys.ref(ref, name), Body: JSON.stringify({ commit, fetchedAt: Date.now() }), ContentType: 'application/json' }));
      result.refs += 1;
    }
  }
  return result;
}
