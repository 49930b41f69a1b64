/**
 * `verify --store`: every blob object of a shared store re-hashed against its key, streamed from
 * the store (nothing is kept on disk), a few at a time. A damaged object is reported with the S3
 * ETag of the bytes that were read, so `verify --store --fix` (planStoreFix) deletes exactly that
 * object and not one a replica stored since; replicas never serve it anyway (their local read
 * cache hashes every object it copies in, cuts the transfer on a mismatch and deletes the object).
 */
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { hashAlgorithmForBlobName } from '../cache/etag.js';
import { createStreamingHasher } from '../cache/hashFile.js';
import type { RepoRef } from '../cache/repoId.js';
import { listStore } from './listStore.js';
import { unquote, type S3Connection } from './s3Connection.js';

export interface VerifyStoreFinding {
  code: 'BLOB_HASH_MISMATCH' | 'BLOB_UNREADABLE' | 'FILE_BLOB_MISSING';
  key: string;
  message: string;
  /** BLOB_HASH_MISMATCH: the S3 ETag and size of the object whose bytes were hashed. */
  objectEtag?: string;
  size?: number;
}

export interface VerifyStoreReport {
  ok: boolean;
  store: string;
  blobsChecked: number;
  bytesHashed: number;
  findings: VerifyStoreFinding[];
}

export interface VerifyStoreParams {
  conn: S3Connection;
  /** Only the blobs these repos' file records name (default: every blob object). */
  repos?: RepoRef[];
  concurrency?: number;
  onProgress?: (progress: { bytesHashed: number; blobsChecked: number }) => void;
}

export async function verifyStore(params: VerifyStoreParams): Promise<VerifyStoreReport> {
  const { conn } = params;
  const listing = await listStore({ conn, ...(params.repos ? { repos: params.repos } : {}) });
  const findings: VerifyStoreFinding[] = [];
  let blobs = listing.blobs;
  if (params.repos) {
    const named = new Set(listing.repos.flatMap((r) => r.commits.flatMap((c) => c.files.map((f) => f.etag))));
    blobs = blobs.filter((b) => named.has(b.etag));
  }
  for (const repo of listing.repos) {
    for (const commit of repo.commits) {
      for (const file of commit.files) {
        if (!file.present) findings.push({ code: 'FILE_BLOB_MISSING', key: `${repo.folder}/${commit.commit}/${file.path}`, message: `its blob ${file.etag} is not in the store (it is filled again on the next request)` });
      }
    }
  }
  let bytesHashed = 0;
  let blobsChecked = 0;
  let next = 0;
  const work = async (): Promise<void> => {
    while (next < blobs.length) {
      const blob = blobs[next++]!;
      const algorithm = hashAlgorithmForBlobName({ name: blob.etag })!;
      const hasher = createStreamingHasher({ algorithm, size: blob.size });
      let digest: string | undefined;
      let objectEtag = '';
      try {
        const got = await conn.client.send(new GetObjectCommand({ Bucket: conn.bucket, Key: blob.key }));
        objectEtag = unquote(got.ETag);
        for await (const chunk of got.Body as AsyncIterable<Uint8Array>) {
          hasher.update(chunk);
          bytesHashed += chunk.byteLength;
          params.onProgress?.({ bytesHashed, blobsChecked });
        }
        digest = hasher.digest();
      } catch (err) {
        findings.push({ code: 'BLOB_UNREADABLE', key: blob.key, message: `cannot be read: ${(err as Error).message}` });
      }
      blobsChecked += 1;
      if (digest !== undefined && digest !== blob.etag) {
        findings.push({ code: 'BLOB_HASH_MISMATCH', key: blob.key, message: `${algorithm} of the object is ${digest}, not its name`, objectEtag, size: blob.size });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, params.concurrency ?? 4) }, work));
  // A record whose blob is missing is no damage: the blob is filled again on request.
  const ok = findings.every((f) => f.code === 'FILE_BLOB_MISSING');
  return { ok, store: listing.store, blobsChecked, bytesHashed, findings };
}
