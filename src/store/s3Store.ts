/**
 * The mirror's store on an S3 object store shared by N `hubcache serve` replicas (Ceph RGW, AWS
 * S3, R2, MinIO): any replica answers any client, one upstream transfer per blob whatever replica
 * the clients hit, and a replica can die at any moment without leaving a wrong blob visible.
 *
 * - Blobs are objects named by their hash (s3Keys); a blob object exists only once verified
 *   (s3Upload). Fills are coordinated by a lease (s3Lease); followers read the parts (s3Fill).
 * - Reads go through a local Hub-layout cache (the replica's `--cache-dir`): a blob is copied from
 *   the store into it once, through the same `fetchBlob` as every download (hash checked, atomic
 *   rename), and streamed to clients while it copies. So a damaged object is detected on its first
 *   read on each replica and never completes a client's transfer, and repeated reads cost the
 *   store nothing. The damaged object is then deleted (only if it is still the object that was
 *   read: deleteDamagedObject), so the next request fills the blob again from upstream instead
 *   of failing on it forever. `evict` keeps that cache within a budget (serve runs it after fills).
 * - Optionally a cached blob is answered with a redirect to a short-lived presigned GET, so the
 *   bytes flow from the store to the client without passing through the replica.
 * - Commit-keyed metadata, branch answers (with their fetch time) and file facts live in the
 *   bucket too, so every replica, and an offline one, answers what any replica learned.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { RepoRef } from '../cache/repoId.js';
import { repoFolderName } from '../cache/repoId.js';
import { isCommitHash } from '../cache/revision.js';
import type { BlobReader, BlobStore, FileFacts, FillParams, FillStatus } from './blobStore.js';
import { createLocalStore } from './localStore.js';
import { deleteDamagedObject } from './deleteDamagedObject.js';
import { isS3NotFound, type S3Connection } from './s3Connection.js';
import { S3Fill } from './s3Fill.js';
import { s3Keys } from './s3Keys.js';
import { driveS3Fill, type S3FillContext } from './s3FillDriver.js';
import { cacheTempDir, tempPath } from '../cache/replaceViaTemp.js';
import { S3PeerParts } from './s3PeerParts.js';

import { DEFAULT_LEASE_TTL_MS, DEFAULT_PART_SIZE } from './s3Defaults.js';

export { DEFAULT_LEASE_TTL_MS, DEFAULT_PART_SIZE };

export interface S3StoreParams {
  conn: S3Connection;
  /** The replica's local Hub-layout cache, in front of the store for reads. */
  cacheDir: string;
  /** Answer GETs of blobs in the store with a 302 to a presigned GET valid this long (seconds). */
  redirectSeconds?: number;
  /** Parts of a fill (>= 5 MiB, S3's minimum part). Every replica must use the same; the lease carries it. */
  partSize?: number;
  /** A filler that stops renewing its lease for this long is taken over. */
  leaseTtlMs?: number;
  /** How often a follower looks at the store for new parts, the blob, or a dead filler. */
  pollMs?: number;
  stallTimeoutMs?: number;
  onUpstreamBytes?: (bytes: number) => void;
  onFillEnd?: (fill: FillStatus & { error?: string; role?: string; partsFrom?: { peer: number; store: number } }) => void;
  /** A copy from the store into the local cache ended (the CLI evicts the local cache then). */
  onLocalFillEnd?: () => void;
  /** Notes worth a log line (takeovers, damaged objects). */
  log?: (record: Record<string, unknown>) => void;
  /** Where other replicas reach this one (`--advertise-url`); its leases then offer their parts to peers. */
  advertiseUrl?: () => string | undefined;
  /** A follower took in a part from the leading peer or from the store (metrics). */
  onFollowerPart?: (source: 'peer' | 'store') => void;
}

export interface S3Store extends BlobStore {
  readonly conn: S3Connection;
}

export function createS3Store(params: S3StoreParams): S3Store {
  const { conn } = params;
  const keys = s3Keys({ prefix: conn.prefix });
  const partSize = Math.max(5 * 1024 * 1024, params.partSize ?? DEFAULT_PART_SIZE);
  const leaseTtlMs = params.leaseTtlMs ?? DEFAULT_LEASE_TTL_MS;
  const pollMs = params.pollMs ?? 200;
  const holder = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  const Bucket = conn.bucket;
  const running = new Map<string, S3Fill>();
  const settling = new Set<Promise<void>>();
  const closing = new AbortController();
  const peers = params.advertiseUrl ? new S3PeerParts({ advertiseUrl: params.advertiseUrl, signal: closing.signal }) : undefined;
  const writtenRefs = new Map<string, { commit: string; at: number }>();
  /** `<repo folder>|<etag>` -> S3 ETag of the blob object a local copy is reading. */
  const copying = new Map<string, string>();
  const local = createLocalStore({
    cacheDir: params.cacheDir,
    ...(params.stallTimeoutMs !== undefined ? { stallTimeoutMs: params.stallTimeoutMs } : {}),
    onFillEnd: (fill) => {
      const objectEtag = copying.get(`${fill.repo}|${fill.etag}`);
      copying.delete(`${fill.repo}|${fill.etag}`);
      if (fill.error) {
        // A stored object that does not hash to its name: its readers were cut, the local copy discarded.
        params.log?.({ event: 'store-read-failed', etag: fill.etag, error: fill.error });
        if (fill.errorCode === 'E_INTEGRITY' && objectEtag !== undefined) removeDamaged(fill.etag, objectEtag);
      }
      params.onLocalFillEnd?.();
    },
  });

  /** The blob object's size and S3 ETag, or undefined when there is none. */
  async function headBlob(etag: string): Promise<{ size: number; objectEtag: string } | undefined> {
    try {
      const head = await conn.client.send(new HeadObjectCommand({ Bucket, Key: keys.blob(etag) }));
      return { size: head.ContentLength ?? -1, objectEtag: head.ETag ?? '' };
    } catch (err) {
      if (isS3NotFound(err)) return undefined;
      throw err;
    }
  }

  async function blobExists(etag: string, size: number): Promise<boolean> {
    return (await headBlob(etag))?.size === size;
  }

  /** Deletes the damaged object this replica read (kept if another stands there now), logged either way. */
  function removeDamaged(etag: string, objectEtag: string): void {
    const key = keys.blob(etag);
    const work = deleteDamagedObject({ conn, key, objectEtag })
      .then(
        (outcome) => params.log?.({ event: outcome === 'removed' ? 'store-object-removed' : 'store-object-kept', key, outcome }),
        (err: unknown) => params.log?.({ event: 'store-object-kept', key, error: (err as Error).message }),
      )
      .finally(() => settling.delete(work));
    settling.add(work);
  }

  function presign(etag: string, seconds: number): Promise<string> {
    return getSignedUrl(conn.client, new GetObjectCommand({ Bucket, Key: keys.blob(etag) }), { expiresIn: seconds });
  }

  /** The stored blob straight from the store (bytes a filler just verified). */
  function objectReader(facts: { etag: string; size: number }): BlobReader {
    return {
      etag: facts.etag,
      size: facts.size,
      cached: true,
      stream: ({ start, end }) => Readable.from(readObject({ key: keys.blob(facts.etag), start, end }), { objectMode: false }),
    };
  }

  async function* readObject(params: { key: string; start: number; end: number }): AsyncGenerator<Uint8Array> {
    if (params.end <= params.start) return;
    yield* await getRange(params);
  }

  /** Bytes `start..end` of the object at `key` (end exclusive, not empty). */
  async function getRange(params: { key: string; start: number; end: number }): Promise<AsyncIterable<Uint8Array>> {
    const got = await conn.client.send(new GetObjectCommand({ Bucket, Key: params.key, Range: `bytes=${params.start}-${params.end - 1}` }), { abortSignal: closing.signal });
    return got.Body as AsyncIterable<Uint8Array>;
  }

  /** A stored blob through the local cache: copied in once (verified), streamed while it copies. */
  async function readThroughLocal(params: { repo: RepoRef; revision: string; path: string; facts: FileFacts; redirectSeconds?: number }): Promise<BlobReader | undefined> {
    const cached = await local.openBlob(params);
    if (cached) return cached;
    const head = await headBlob(params.facts.etag);
    if (head?.size !== params.facts.size) return undefined;
    if (params.redirectSeconds !== undefined) {
      return { ...objectReader(params.facts), redirect: await presign(params.facts.etag, params.redirectSeconds) };
    }
    const joined = await local.runningFill({ repo: params.repo, etag: params.facts.etag });
    if (joined) return joined;
    const { repo, revision, path, facts } = params;
    const url = await presign(facts.etag, 3600);
    const copy = `${repoFolderName(repo)}|${facts.etag}`;
    // Which object the copy reads (a re-filled key holds another): only that one is deleted if it hashes wrong.
    copying.set(copy, head.objectEtag);
    return local.fillBlob({ repo, revision, path, facts, url, token: undefined });
  }

  const readerParams = (p: { repo: RepoRef; revision: string; path: string; facts: FileFacts }): { repo: RepoRef; revision: string; path: string; facts: FileFacts; redirectSeconds?: number } =>
    params.redirectSeconds !== undefined ? { ...p, redirectSeconds: params.redirectSeconds } : p;

  async function putJson(key: string, value: unknown): Promise<void> {
    await conn.client.send(new PutObjectCommand({ Bucket, Key: key, Body: JSON.stringify(value), ContentType: 'application/json' }));
  }

  async function getBytes(key: string): Promise<Buffer | undefined> {
    try {
      const got = await conn.client.send(new GetObjectCommand({ Bucket, Key: key }));
      return Buffer.from(await got.Body!.transformToByteArray());
    } catch (err) {
      if (isS3NotFound(err)) return undefined;
      throw err;
    }
  }

  async function recordFile(request: FillParams): Promise<void> {
    const { repo, facts, path, revision } = request;
    await putJson(keys.file(repo, facts.commit, path), { etag: facts.etag, size: facts.size }).catch(() => undefined);
    if (!isCommitHash(revision) && (request.refIsCurrent?.() ?? true)) await store.noteRef({ repo, revision, commit: facts.commit }).catch(() => undefined);
  }

  const fillContext: S3FillContext = {
    conn,
    keys,
    holder,
    partSize,
    leaseTtlMs,
    pollMs,
    signal: closing.signal,
    blobExists,
    ...(params.stallTimeoutMs !== undefined ? { stallTimeoutMs: params.stallTimeoutMs } : {}),
    ...(params.onUpstreamBytes ? { onUpstreamBytes: params.onUpstreamBytes } : {}),
    ...(params.log ? { log: params.log } : {}),
    ...(peers ? { peers } : {}),
    ...(params.onFollowerPart ? { onFollowerPart: params.onFollowerPart } : {}),
  };

  const store: S3Store = {
    conn,

    async openBlob(p) {
      return readThroughLocal(readerParams(p));
    },

    async runningFill({ repo, etag }) {
      const fill = running.get(`${repoFolderName(repo)}|${etag}`);
      if (fill?.state !== 'running') return local.runningFill({ repo, etag });
      return fill.started().then(
        () => fill.reader(),
        () => undefined,
      );
    },

    async fillBlob(request) {
      const key = `${repoFolderName(request.repo)}|${request.facts.etag}`;
      const existing = running.get(key);
      if (existing && existing.state === 'running') {
        await existing.started();
        return existing.reader();
      }
      const fill = new S3Fill(
        { repo: repoFolderName(request.repo), path: request.path, etag: request.facts.etag, size: request.facts.size },
        {
          final: () => objectReader(request.facts),
          storedPart: async ({ index, start, end }) => {
            try {
              return await getRange({ key: keys.part(request.facts.etag, index), start, end });
            } catch (err) {
              if (isS3NotFound(err)) return undefined;
              throw err;
            }
          },
          spoolPath: () => tempPath({ tempDir: cacheTempDir(params.cacheDir) }),
        },
      );
      running.set(key, fill);
      const work = driveS3Fill({ ctx: fillContext, fill, request })
        .then(
          async () => {
            fill.settle();
            await recordFile(request);
          },
          (err: unknown) => fill.settle(err instanceof Error ? err : new Error(String(err))),
        )
        .finally(() => {
          if (running.get(key) === fill) running.delete(key);
          params.onFillEnd?.({ ...fill.snapshot(), role: fill.role, ...(fill.role === 'follower' ? { partsFrom: fill.partsFrom } : {}), ...(fill.error ? { error: fill.error.message } : {}) });
          settling.delete(work);
        });
      settling.add(work);
      await fill.started();
      return fill.reader();
    },

    async cachedFile({ repo, revision, path }) {
      const commit = isCommitHash(revision) ? revision : await store.cachedRef({ repo, revision });
      if (commit === undefined) return undefined;
      const raw = await getBytes(keys.file(repo, commit, path)).catch(() => undefined);
      if (raw === undefined) return local.cachedFile({ repo, revision, path });
      let facts: FileFacts;
      try {
        const parsed = JSON.parse(raw.toString('utf8')) as { etag: string; size: number };
        facts = { commit, etag: parsed.etag, size: parsed.size };
      } catch {
        return undefined;
      }
      const reader = await readThroughLocal(readerParams({ repo, revision, path, facts })).catch(() => undefined);
      return reader ? { ...facts, reader } : undefined;
    },

    async noteRef({ repo, revision, commit }) {
      if (isCommitHash(revision)) return;
      const key = keys.ref(repo, revision);
      const last = writtenRefs.get(key);
      // Every branch answer is worth keeping, but not a PUT per request: again when it moved or aged.
      if (last?.commit === commit && Date.now() - last.at < 60_000) return;
      writtenRefs.set(key, { commit, at: Date.now() });
      await putJson(key, { commit, fetchedAt: Date.now() });
    },

    async cachedRef({ repo, revision }) {
      const raw = await getBytes(keys.ref(repo, revision)).catch(() => undefined);
      if (raw === undefined) return local.cachedRef({ repo, revision });
      try {
        const commit = (JSON.parse(raw.toString('utf8')) as { commit?: unknown }).commit;
        return typeof commit === 'string' && isCommitHash(commit) ? commit : undefined;
      } catch {
        return undefined;
      }
    },

    async getMeta({ key }) {
      return getBytes(keys.meta(key));
    },

    async putMeta({ key, value }) {
      await conn.client.send(new PutObjectCommand({ Bucket, Key: keys.meta(key), Body: value }));
    },

    async peerPart(request) {
      return peers ? peers.answer(request) : { status: 404, message: 'This replica offers no parts to peers' };
    },

    fills() {
      return [...[...running.values()].map((fill) => fill.snapshot()), ...local.fills()];
    },

    async close() {
      closing.abort();
      await Promise.all([...settling]);
      await local.close();
    },
  };
  return store;
}
