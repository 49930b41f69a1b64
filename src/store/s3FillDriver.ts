/**
 * How one replica drives one blob's fill into the shared store until the blob exists: take the
 * lease and fill (s3Upload), or follow a live filler, copying each part it lands into the local
 * spool (s3Fill); take over a filler whose lease expired; stop on a filler's verification failure.
 */
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { isHubcacheError } from '../errors.js';
import type { FillParams } from './blobStore.js';
import { isS3NotFound, type S3Connection } from './s3Connection.js';
import type { S3Fill } from './s3Fill.js';
import type { S3Keys } from './s3Keys.js';
import { leaseIsLive, leaseKey, readLease, renewLease, tryCreateLease, type LeaseBody } from './s3Lease.js';
import { uploadBlob } from './s3Upload.js';

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
}

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
async function lead(ctx: S3FillContext, fill: S3Fill, request: FillParams, gen: number): Promise<void> {
  const { conn, keys, holder, partSize, leaseTtlMs } = ctx;
  const Bucket = conn.bucket;
  const { etag, size } = request.facts;
  fill.role = 'leader';
  const body = (state: LeaseBody['state'], error?: string): LeaseBody => ({ holder, until: Date.now() + leaseTtlMs, partSize, size, state, ...(error ? { error } : {}) });
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
  await releaseLeases(ctx, etag);
}

/** Lead or follow until the blob is in the store (or the fill failed). */
export async function driveS3Fill(params: { ctx: S3FillContext; fill: S3Fill; request: FillParams }): Promise<void> {
const { ctx, fill, request } = params;
  const { conn, keys, holder, partSize, leaseTtlMs, pollMs } = ctx;
  const { etag, size } = request.facts;
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
      const won = await tryCreateLease({ conn, keys, etag, gen, body: { holder, until: now + leaseTtlMs, partSize, size, state: 'filling' } });
      if (won) {
        if (lease !== undefined) ctx.log?.({ event: lease.body.state === 'failed' ? 'fill-retry' : 'fill-takeover', etag, gen, from: lease.body.holder });
        try {
          await lead(ctx, fill, request, gen);
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
    // Copy each landed part once into this replica's spool, for all its local readers.
    let copied = false;
    for (let index = fill.nextMissingPart(); index !== undefined; index = fill.nextMissingPart()) {
      const data = await readPart(ctx, etag, index).catch(() => undefined);
      if (data === undefined) break;
      await fill.onPart(index, data);
      copied = true;
    }
    if (!copied) await sleep(pollMs);
    fill.wake();
  }
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
