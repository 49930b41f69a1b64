/**
 * How one replica drives one blob's fill into the shared store until the blob exists: take the
 * lease and fill (s3Upload), or follow a live filler, copying each part it lands into this
 * replica's view of the fill (s3Fill); take over a filler whose lease expired; stop on a filler's verification failure.
 *
 * A follower gets each part from the filler itself when its lease names a peer (s3PeerParts,
 * fetchPeerPart), so N replicas following one fill do not read every part back from the store:
 * the store's reads are what runs out first. The store stays the source of truth: a part from the
 * peer is used only when it hashes to the store's part object (the sha256 in its metadata, or
 * for parts written without it, the MD5 that is a single PUT's ETag), and anything else (a
 * mismatch, no part object, an error or a timeout) reads the store instead.
 */
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { hashAlgorithmForBlobName } from '../cache/etag.js';
import { isHubcacheError } from '../errors.js';
import type { FillParams } from './blobStore.js';
import { isS3NotFound, unquote, type S3Connection } from './s3Connection.js';
import type { S3Fill } from './s3Fill.js';
import type { S3Keys } from './s3Keys.js';
import { leaseIsLive, leaseKey, readLease, renewLease, tryCreateLease, type LeaseBody } from './s3Lease.js';
import { partLength } from './partLength.js';
import { uploadBlob } from './s3Upload.js';
import { fetchPeerPart } from './fetchPeerPart.js';
import { partMatches } from './putPartObject.js';
import type { LeasePeer, S3PeerParts } from './s3PeerParts.js';

export interface S3FillContext {
  conn: S3Connection;
  keys: S3Keys;
  /** This replica's name in leases (host:pid:random). */
  holder: string;
  partSize: number;
  leaseTtlMs: number;
  pollMs: number;
  /** Aborted when the store closes. */
  signal: AbortSignal;
  blobExists(etag: string, size: number): Promise<boolean>;
  stallTimeoutMs?: number;
  onUpstreamBytes?: (bytes: number) => void;
  log?: (record: Record<string, unknown>) => void;
  /** The fills this replica leads, answered to peers; absent: leases name no peer. */
  peers?: S3PeerParts;
  /** A follower's whole exchange with a peer for one part (its long poll included). */
  peerTimeoutMs?: number;
  /** A follower took in a part it got from the leading peer or from the store. */
  onFollowerPart?: (source: 'peer' | 'store') => void;
}

const DEFAULT_PEER_TIMEOUT_MS = 30_000;

async function readPart(ctx: S3FillContext, etag: string, index: number): Promise<Buffer | undefined> {
  const { conn, keys } = ctx;
  const Bucket = conn.bucket;
  try {
    const got = await conn.client.send(new GetObjectCommand({ Bucket, Key: keys.part(etag, index) }), { abortSignal: ctx.signal });
    return Buffer.from(await got.Body!.transformToByteArray());
  } catch (err) {
    if (isS3NotFound(err)) return undefined;
    throw err;
  }
}

/** Fill this blob here, holding lease generation `gen`; resolves when verified and stored. */
async function lead(ctx: S3FillContext, fill: S3Fill, request: FillParams, gen: number, peer: LeasePeer | undefined): Promise<void> {
  const { conn, keys, holder, partSize, leaseTtlMs } = ctx;
  const Bucket = conn.bucket;
  const { etag, size } = request.facts;
  fill.role = 'leader';
  if (peer) ctx.peers?.lead(etag, fill, peer);
  const body = (state: LeaseBody['state'], error?: string): LeaseBody => ({
    holder,
    until: Date.now() + leaseTtlMs,
    partSize,
    size,
    state,
    ...(error ? { error } : {}),
    ...(peer ? { peer } : {}),
  });
  let lost = false;
  const renewal = setInterval(() => {
    void renewLease({ conn, keys, etag, gen, body: body('filling') }).then(
      (held) => {
        if (!held) lost = true;
      },
      () => undefined,
    );
  }, Math.max(100, Math.floor(leaseTtlMs / 3)));
  try {
    await uploadBlob({
      conn,
      keys,
      etag,
      size,
      partSize,
      url: request.url,
      token: request.token,
      signal: ctx.signal,
      ...(ctx.stallTimeoutMs !== undefined ? { stallTimeoutMs: ctx.stallTimeoutMs } : {}),
      onStarted: () => fill.markStarted(partSize),
      onReceived: (bytes) => ctx.onUpstreamBytes?.(bytes),
      onPart: (index, data) => fill.onPart(index, data),
      assertLease: () => {
        if (lost) throw new LeaseLost();
      },
    });
  } catch (err) {
    clearInterval(renewal);
    ctx.peers?.end(etag, fill);
    if (isHubcacheError(err, 'E_INTEGRITY')) {
      // Followers must stop, not take over and fetch the same wrong bytes again.
      await renewLease({ conn, keys, etag, gen, body: body('failed', (err as Error).message) }).catch(() => undefined);
    } else if (!(err instanceof LeaseLost)) {
      // Upstream or this replica failed: let another replica try at once instead of after the TTL.
      await conn.client.send(new DeleteObjectCommand({ Bucket, Key: leaseKey({ keys, etag, gen }) })).catch(() => undefined);
    }
    throw err;
  }
  clearInterval(renewal);
  ctx.peers?.end(etag, fill);
  await releaseLeases(ctx, etag);
}

/** Lead or follow until the blob is in the store (or the fill failed). */
export async function driveS3Fill(params: { ctx: S3FillContext; fill: S3Fill; request: FillParams }): Promise<void> {
  const { ctx, fill, request } = params;
  const { conn, keys, holder, partSize, leaseTtlMs, pollMs } = ctx;
  const { etag, size } = request.facts;
  /** Leases whose peer failed once (`gen:holder`). */
  const failedPeers = new Set<string>();
  /**
   * The one buffer parts from a peer are received into: each is taken in (awaited) before the next
   * is fetched, and a fresh 16 MiB buffer per part costs more CPU in page faults than the copy.
   */
  let peerBuffer: Buffer | undefined;
  for (;;) {
    if (ctx.signal.aborted) throw new Error('store closed');
    if (await ctx.blobExists(etag, size)) return;
    const lease = await readLease({ conn, keys, etag });
    const now = Date.now();
    if (lease?.body.state === 'failed' && leaseIsLive({ lease, now }) && fill.role !== 'starting') {
      throw new Error(`the filling replica failed: ${lease.body.error ?? 'unknown error'}`);
    }
    // A failure recorded before this fill looked (it never followed that filler) is over: retry
    // now rather than after the TTL. The failed filler's own followers stopped above.
    if (!leaseIsLive({ lease, now }) || (lease!.body.state === 'failed' && fill.role === 'starting')) {
      const gen = (lease?.gen ?? 0) + 1;
      const peer = ctx.peers?.offer();
      const won = await tryCreateLease({ conn, keys, etag, gen, body: { holder, until: now + leaseTtlMs, partSize, size, state: 'filling', ...(peer ? { peer } : {}) } });
      if (won) {
        if (lease !== undefined) ctx.log?.({ event: lease.body.state === 'failed' ? 'fill-retry' : 'fill-takeover', etag, gen, from: lease.body.holder });
        try {
          await lead(ctx, fill, request, gen, peer);
          return;
        } catch (err) {
          // Another filler completed the same blob first (its cleanup removed parts we were
          // copying): the blob is there and verified, which is all that was wanted.
          if (await ctx.blobExists(etag, size).catch(() => false)) return;
          if (err instanceof LeaseLost) {
            fill.role = 'follower';
            continue;
          }
          throw err;
        }
      }
      continue;
    }
    fill.role = 'follower';
    fill.markStarted(lease!.body.partSize);
    // Copy each landed part once into this replica's fill, for all its local readers.
    const current = lease!;
    let copied = false;
    for (let index = fill.nextMissingPart(); index !== undefined; index = fill.nextMissingPart()) {
      let data: Buffer | undefined;
      let source: 'peer' | 'store' = 'store';
      const peer = current.body.peer;
      if (peer !== undefined && current.body.holder !== holder && !failedPeers.has(leaseId(current))) {
        if (peerBuffer === undefined || peerBuffer.byteLength < current.body.partSize) peerBuffer = Buffer.allocUnsafe(current.body.partSize);
        const got = await partFromPeer(ctx, { etag, size, partSize: current.body.partSize, index, peer, into: peerBuffer });
        // A dead, hung or lying peer is likely to stay so for this lease: read the store from now on.
        if (got === 'failed') failedPeers.add(leaseId(current));
        if (got instanceof Buffer) {
          data = got;
          source = 'peer';
        }
      }
      data ??= await readPart(ctx, etag, index).catch(() => undefined);
      if (data === undefined) break;
      await fill.onPart(index, data);
      fill.partsFrom[source] += 1;
      ctx.onFollowerPart?.(source);
      copied = true;
    }
    if (!copied) await sleep(pollMs);
    fill.wake();
  }
}

/**
 * Part `index` from the leading peer, checked against the store's part object: its bytes, or
 * 'not-yet' (the peer has no such part now), or 'failed' (an error, a timeout, wrong bytes).
 */
async function partFromPeer(
  ctx: S3FillContext,
  params: { etag: string; size: number; partSize: number; index: number; peer: NonNullable<LeaseBody['peer']>; into: Buffer },
): Promise<Buffer | 'not-yet' | 'failed'> {
  const { etag, index } = params;
  const length = partLength({ size: params.size, partSize: params.partSize, index });
  const algo = hashAlgorithmForBlobName({ name: etag }) === 'sha256' ? 'sha256' : 'sha1';
  const got = await fetchPeerPart({ peer: params.peer, algo, etag, index, length, into: params.into, timeoutMs: ctx.peerTimeoutMs ?? DEFAULT_PEER_TIMEOUT_MS, signal: ctx.signal });
  if (got.kind === 'not-yet') return 'not-yet';
  if (got.kind === 'failed') {
    ctx.log?.({ event: 'peer-part-failed', etag, index, reason: got.reason });
    return 'failed';
  }
  let stored: { metadata: Record<string, string> | undefined; etag: string };
  try {
    const head = await ctx.conn.client.send(new HeadObjectCommand({ Bucket: ctx.conn.bucket, Key: ctx.keys.part(etag, index) }), { abortSignal: ctx.signal });
    if (head.ContentLength !== length) {
      ctx.log?.({ event: 'peer-part-failed', etag, index, reason: `the stored part has ${head.ContentLength} bytes, not ${length}` });
      return 'failed';
    }
    stored = { metadata: head.Metadata, etag: unquote(head.ETag) };
  } catch (err) {
    // No part object: a peer answering ahead of the store, or the fill completed and cleaned up
    // (the loop then finds the blob); either way this lease's peer is done with.
    if (isS3NotFound(err)) ctx.log?.({ event: 'peer-part-failed', etag, index, reason: 'no such part in the store' });
    return 'failed';
  }
  const check = partMatches({ data: got.data, stored });
  if (!check.ok) {
    ctx.log?.({ event: 'peer-part-failed', etag, index, reason: check.detail });
    return 'failed';
  }
  return got.data;
}

function leaseId(lease: { gen: number; body: LeaseBody }): string {
  return `${lease.gen}:${lease.body.holder}`;
}

async function releaseLeases(ctx: S3FillContext, etag: string): Promise<void> {
  const { conn, keys } = ctx;
  const Bucket = conn.bucket;
  const listed = await conn.client.send(new ListObjectsV2Command({ Bucket, Prefix: `${keys.fillPrefix(etag)}lease-` })).catch(() => undefined);
  await Promise.all((listed?.Contents ?? []).map((o) => conn.client.send(new DeleteObjectCommand({ Bucket, Key: o.Key! })).catch(() => undefined)));
}

class LeaseLost extends Error {
  constructor() {
    super('another replica took over this fill');
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
