/**
 * Who fills a blob into the shared store right now, so N replicas make one upstream transfer.
 *
 * A lease is an object `fills/<algo>/<etag>/lease-<gen>` holding its holder, an expiry and the
 * part size of the fill. Generation 1 is created with `If-None-Match: *`: of replicas racing for a
 * cold blob, one wins and the others follow. The holder rewrites its own object before it expires;
 * a holder that died (kill -9) stops doing so, and the first replica that sees it expired creates
 * generation g+1, again conditionally, so one replica takes over. A holder that finds a newer
 * generation than its own has lost the lease and stops. A fill that failed verification writes
 * its lease as failed, so followers stop instead of taking over and failing again. A lease also
 * names where its holder answers for the parts it landed (`peer`, see s3PeerParts).
 *
 * None of this is needed for correctness: two fillers write identical parts (they are cut at the
 * same offsets of the same content) and a blob becomes visible only as a complete object whose
 * hash was checked. On a store without conditional writes (see s3Connection's probe) two replicas
 * may both fill: that costs a transfer, never a wrong byte.
 */
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { isS3NotFound, s3Status, type S3Connection } from './s3Connection.js';
import type { S3Keys } from './s3Keys.js';
import type { LeasePeer } from './s3PeerParts.js';

export interface LeaseBody {
  holder: string;
  /** Epoch ms after which others may take over. */
  until: number;
  partSize: number;
  size: number;
  state: 'filling' | 'failed';
  error?: string;
  /** Where followers may fetch landed parts from the holder (absent in leases of older replicas). */
  peer?: LeasePeer;
}

export interface Lease {
  gen: number;
  body: LeaseBody;
}

export function leaseKey(params: { keys: S3Keys; etag: string; gen: number }): string {
  return `${params.keys.fillPrefix(params.etag)}lease-${String(params.gen).padStart(6, '0')}`;
}

/** The newest lease of a blob's fill, or undefined when none is recorded. */
export async function readLease(params: { conn: S3Connection; keys: S3Keys; etag: string }): Promise<Lease | undefined> {
  const { conn, keys, etag } = params;
  const listed = await conn.client.send(new ListObjectsV2Command({ Bucket: conn.bucket, Prefix: `${keys.fillPrefix(etag)}lease-` }));
  const gens = (listed.Contents ?? [])
    .map((object) => /lease-(\d+)$/.exec(object.Key ?? '')?.[1])
    .filter((gen): gen is string => gen !== undefined)
    .map(Number)
    .sort((a, b) => b - a);
  for (const gen of gens) {
    try {
      const got = await conn.client.send(new GetObjectCommand({ Bucket: conn.bucket, Key: leaseKey({ keys, etag, gen }) }));
      const text = await got.Body!.transformToString();
      return { gen, body: JSON.parse(text) as LeaseBody };
    } catch (err) {
      // Released between the listing and the read: an older one may still stand.
      if (isS3NotFound(err) || err instanceof SyntaxError) continue;
      throw err;
    }
  }
  return undefined;
}

/** Creates generation `gen` if nobody has; true when this caller holds it. */
export async function tryCreateLease(params: { conn: S3Connection; keys: S3Keys; etag: string; gen: number; body: LeaseBody }): Promise<boolean> {
  const { conn, keys, etag, gen, body } = params;
  const key = leaseKey({ keys, etag, gen });
  try {
    await conn.client.send(
      new PutObjectCommand({
        Bucket: conn.bucket,
        Key: key,
        Body: JSON.stringify(body),
        ContentType: 'application/json',
        ...(conn.conditionalWrites ? { IfNoneMatch: '*' } : {}),
      }),
    );
  } catch (err) {
    if (s3Status(err) === 412 || s3Status(err) === 409) return false;
    throw err;
  }
  if (conn.conditionalWrites) return true;
  // Without conditional writes the last writer wins: we hold it if our body is what stands now.
  const now = await readLease({ conn, keys, etag });
  return now?.gen === gen && now.body.holder === body.holder;
}

/**
 * Extends (or marks failed) a lease we hold. False when a newer generation exists: someone took
 * over while we were too slow, so we stop filling.
 */
export async function renewLease(params: { conn: S3Connection; keys: S3Keys; etag: string; gen: number; body: LeaseBody }): Promise<boolean> {
  const { conn, keys, etag, gen, body } = params;
  // Extend first (one PUT: a loaded store must not make a live holder look dead), then look for a
  // newer generation: someone may have taken over while this holder was too slow.
  await conn.client.send(new PutObjectCommand({ Bucket: conn.bucket, Key: leaseKey({ keys, etag, gen }), Body: JSON.stringify(body), ContentType: 'application/json' }));
  const newest = await readLease({ conn, keys, etag });
  return !(newest !== undefined && (newest.gen > gen || newest.body.holder !== body.holder));
}

export function leaseIsLive(params: { lease: Lease | undefined; now: number }): boolean {
  return params.lease !== undefined && params.lease.body.until > params.now;
}
