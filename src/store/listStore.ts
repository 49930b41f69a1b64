/**
 * What a shared store holds, read from its layout alone (s3Keys): the repos and commits whose
 * files a replica recorded, their branch answers, and every blob object with its size. A blob no
 * file record names is listed too (a push interrupted before its records, or records cleaned).
 */
import { ListObjectsV2Command, GetObjectCommand } from '@aws-sdk/client-s3';
import { parseRepoFolderName, type RepoRef } from '../cache/repoId.js';
import { isCommitHash } from '../cache/revision.js';
import type { S3Connection } from './s3Connection.js';
import { s3Keys } from './s3Keys.js';

export interface StoreFile {
  path: string;
  etag: string;
  size: number;
  /** The blob object exists with that size. */
  present: boolean;
}

export interface StoreRepo {
  repo: RepoRef;
  folder: string;
  commits: Array<{ commit: string; files: StoreFile[] }>;
  refs: Array<{ revision: string; commit: string; fetchedAt: number | null }>;
  /** Unique present blobs of all its commits. */
  sizeBytes: number;
}

export interface StoreListing {
  store: string;
  repos: StoreRepo[];
  blobs: Array<{ etag: string; size: number; key: string }>;
  blobBytes: number;
}

export async function* listKeys(params: { conn: S3Connection; prefix: string }): AsyncGenerator<{ key: string; size: number }> {
  let ContinuationToken: string | undefined;
  do {
    const page = await params.conn.client.send(new ListObjectsV2Command({ Bucket: params.conn.bucket, Prefix: params.prefix, ContinuationToken }));
    for (const object of page.Contents ?? []) yield { key: object.Key!, size: object.Size ?? 0 };
    ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (ContinuationToken);
}

async function getJson(conn: S3Connection, key: string): Promise<Record<string, unknown> | undefined> {
  try {
    const got = await conn.client.send(new GetObjectCommand({ Bucket: conn.bucket, Key: key }));
    return JSON.parse(await got.Body!.transformToString()) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

export async function listStore(params: { conn: S3Connection; repos?: RepoRef[] }): Promise<StoreListing> {
  const { conn } = params;
  const keys = s3Keys({ prefix: conn.prefix });
  const blobs: StoreListing['blobs'] = [];
  for await (const object of listKeys({ conn, prefix: keys.blobsPrefix() })) {
    const etag = keys.etagOfBlobKey(object.key);
    if (etag !== undefined) blobs.push({ etag, size: object.size, key: object.key });
  }
  const blobSize = new Map(blobs.map((b) => [b.etag, b.size]));
  const wanted = params.repos?.map((repo) => keys.filesPrefix(repo)) ?? [keys.filesPrefix()];
  const byFolder = new Map<string, StoreRepo>();
  const repoFor = (folder: string): StoreRepo | undefined => {
    let entry = byFolder.get(folder);
    if (entry === undefined) {
      const repo = parseRepoFolderName({ name: folder });
      if (repo === undefined) return undefined;
      entry = { repo, folder, commits: [], refs: [], sizeBytes: 0 };
      byFolder.set(folder, entry);
    }
    return entry;
  };
  const records: Array<{ key: string; folder: string; commit: string; path: string }> = [];
  for (const prefix of wanted) {
    for await (const object of listKeys({ conn, prefix })) {
      const rest = object.key.slice(keys.filesPrefix().length);
      const [folder, commit, ...path] = rest.split('/');
      if (folder === undefined || commit === undefined || !isCommitHash(commit) || path.length === 0) continue;
      records.push({ key: object.key, folder, commit, path: path.join('/') });
    }
  }
  // Records are tiny: read them a few at a time.
  const facts = new Map<string, { etag: string; size: number }>();
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < records.length) {
        const record = records[next++]!;
        const value = await getJson(conn, record.key);
        if (typeof value?.etag === 'string' && typeof value.size === 'number') facts.set(record.key, { etag: value.etag, size: value.size });
      }
    }),
  );
  for (const record of records) {
    const fact = facts.get(record.key);
    const entry = repoFor(record.folder);
    if (fact === undefined || entry === undefined) continue;
    let commit = entry.commits.find((c) => c.commit === record.commit);
    if (commit === undefined) {
      commit = { commit: record.commit, files: [] };
      entry.commits.push(commit);
    }
    commit.files.push({ path: record.path, etag: fact.etag, size: fact.size, present: blobSize.get(fact.etag) === fact.size });
  }
  for (const entry of byFolder.values()) {
    for await (const object of listKeys({ conn, prefix: keys.refsPrefix(entry.repo) })) {
      const value = await getJson(conn, object.key);
      if (typeof value?.commit !== 'string') continue;
      entry.refs.push({ revision: object.key.slice(keys.refsPrefix(entry.repo).length), commit: value.commit, fetchedAt: typeof value.fetchedAt === 'number' ? value.fetchedAt : null });
    }
    const unique = new Map<string, number>();
    for (const c of entry.commits) for (const f of c.files) if (f.present) unique.set(f.etag, f.size);
    entry.sizeBytes = [...unique.values()].reduce((a, b) => a + b, 0);
  }
  return {
    store: conn.describe,
    repos: [...byFolder.values()].sort((a, b) => a.folder.localeCompare(b.folder)),
    blobs,
    blobBytes: blobs.reduce((a, b) => a + b.size, 0),
  };
}
