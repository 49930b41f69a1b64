/**
 * The one boundary between the mirror's routes and where bytes live. Routes ask a store for a
 * committed blob, start or join the single fill of a missing one, and keep commit-keyed metadata;
 * they never see paths. The local Hub-layout cache implements it today (`localStore`); a shared
 * object store can implement the same interface without touching a route.
 */
import type { Readable } from 'node:stream';
import type { RepoRef } from '../cache/repoId.js';

/** A readable view of one blob, committed or still being filled. */
export interface BlobReader {
  readonly etag: string;
  readonly size: number;
  /** True when the bytes come from the cache (no fill was needed). */
  readonly cached: boolean;
  /**
   * Where a client may fetch the same bytes itself (a presigned GET of a shared store's object):
   * a GET is then answered with a 302 there; HEADs and ranged reads of a fill never carry one.
   */
  readonly redirect?: string;
  /**
   * Bytes `start..end` (end exclusive). For a blob being filled it waits for each byte to be on
   * disk, and holds back the last byte until the whole blob is verified: a fill that fails
   * verification ends the stream with an error, so a client sees a broken transfer, never a
   * complete wrong file.
   */
  stream(params: { start: number; end: number }): Readable;
}

/** What the Hub said about one file at one commit (the HEAD of its resolve URL). */
export interface FileFacts {
  commit: string;
  etag: string;
  size: number;
}

export interface FillParams {
  repo: RepoRef;
  /** The revision the client asked for (a ref is written for it once the file is in the snapshot). */
  revision: string;
  path: string;
  facts: FileFacts;
  /**
   * Asked when the fill is done: the ref for `revision` is written only if this says the revision
   * still names `facts.commit` (a branch can move while a slow fill runs; a newer ref must not be
   * moved back). Absent: always written.
   */
  refIsCurrent?: () => boolean;
  /** Where the bytes are upstream (the Hub or its CDN) and the token for that first hop. */
  url: string;
  token: string | undefined;
}

export interface FillStatus {
  repo: string;
  path: string;
  etag: string;
  size: number;
  written: number;
  startedAt: number;
}

/** Another replica asks for part `index` of a fill this one leads (see s3PeerParts). */
export interface PeerPartRequest {
  etag: string;
  index: number;
  /** The `x-hubcache-peer-key` header as sent (undefined when absent). */
  key: string | undefined;
  /** Aborted when the asking replica goes away. */
  signal: AbortSignal;
}

export type PeerPartAnswer =
  | { status: 200; length: number; stream: Readable }
  | { status: 400 | 403 | 404; message: string };

export interface BlobStore {
  /** A committed, complete blob, or undefined. Also links it into the snapshot when it is missing there. */
  openBlob(params: { repo: RepoRef; revision: string; path: string; facts: FileFacts }): Promise<BlobReader | undefined>;
  /**
   * The fill of this blob running now, if any (a request that knows the file's facts joins it
   * without asking upstream); undefined too when it fails before its first byte.
   */
  runningFill(params: { repo: RepoRef; etag: string }): Promise<BlobReader | undefined>;
  /**
   * The one fill of this blob: the first caller starts it, later callers join it. Resolves once the
   * fill has its first byte on disk (or is complete); rejects with the fill's error when it fails
   * before that, so the route can still answer with an error status instead of a cut 200.
   */
  fillBlob(params: FillParams): Promise<BlobReader>;
  /** A file the cache holds at a commit or a ref it knows, without asking anyone (offline answers). */
  cachedFile(params: { repo: RepoRef; revision: string; path: string }): Promise<(FileFacts & { reader: BlobReader }) | undefined>;
  /**
   * Upstream said `revision` is `commit`: point the cache's ref at it if that commit's snapshot
   * exists (a ref to a missing snapshot makes huggingface_hub's scan reject the repo).
   */
  noteRef(params: { repo: RepoRef; revision: string; commit: string }): Promise<void>;
  /** The commit a ref pointed to when the cache last saw it. */
  cachedRef(params: { repo: RepoRef; revision: string }): Promise<string | undefined>;
  /** Commit-keyed answers (trees, paths-info, revision info): never change, kept forever. */
  getMeta(params: { key: string }): Promise<Buffer | undefined>;
  putMeta(params: { key: string; value: Buffer }): Promise<void>;
  /**
   * A part of a fill this replica leads, for another replica of a shared store (s3PeerParts);
   * absent on a store that has no peers.
   */
  peerPart?(params: PeerPartRequest): Promise<PeerPartAnswer>;
  /** Fills in flight (metrics and the dashboard). */
  fills(): FillStatus[];
  /** Stops accepting fills and abandons the running ones cleanly (nothing half-written becomes a blob). */
  close(): Promise<void>;
}
