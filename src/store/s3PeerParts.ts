/**
 * The leading replica's side of peer-to-peer part transfer: it answers other replicas' requests
 * for the parts of the fills it leads, straight from its memory (or spool), so followers do not
 * read every part back from the store (store reads are the scarce resource when N replicas follow one fill).
 *
 * A fill led here is registered with a random key that its lease object carries (`peer`): only a
 * replica that can read the bucket learns it, so no configuration is needed for this auth. A part
 * is answered only once it is in the store and here (S3Fill.onPart after its PUT); a request for a
 * part not there yet waits for it (long poll), up to `waitMs`, and one for a part that already left
 * (a follower far behind) gets a 404 at once: the follower reads the store then. The store stays the
 * source of truth: the follower checks each part against the store's part object before use.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { PeerPartAnswer, PeerPartRequest } from './blobStore.js';
import type { S3Fill } from './s3Fill.js';
import { partCount, partLength } from './partLength.js';

/** What a lease carries so followers can fetch parts from its holder. */
export interface LeasePeer {
  /** Where other replicas reach the holder (`--advertise-url`). */
  url: string;
  /** The capability for this fill's parts (random per lease). */
  key: string;
}

export const DEFAULT_PEER_WAIT_MS = 10_000;

export class S3PeerParts {
  private readonly leading = new Map<string, { fill: S3Fill; key: string }>();

  constructor(
    private readonly params: {
      /** This replica's URL for other replicas; undefined: not known (yet), leases carry no peer. */
      advertiseUrl: () => string | undefined;
      /** How long a request for a part not yet landed waits. */
      waitMs?: number;
      /** Aborted when the store closes. */
      signal: AbortSignal;
    },
  ) {}

  /** A fresh `peer` for a lease this replica tries to create; undefined while it has no URL. */
  offer(): LeasePeer | undefined {
    const url = this.params.advertiseUrl();
    return url === undefined ? undefined : { url, key: randomBytes(24).toString('base64url') };
  }

  /** This replica leads the fill of `etag` under a lease naming `peer`: answer for its parts. */
  lead(etag: string, fill: S3Fill, peer: LeasePeer): void {
    this.leading.set(etag, { fill, key: peer.key });
  }

  end(etag: string, fill: S3Fill): void {
    if (this.leading.get(etag)?.fill === fill) this.leading.delete(etag);
  }

  async answer(request: PeerPartRequest): Promise<PeerPartAnswer> {
    const { etag, index } = request;
    const led = this.leading.get(etag);
    if (led === undefined || led.fill.state !== 'running') return { status: 404, message: 'This replica leads no fill of that blob' };
    if (request.key === undefined || !sameKey(request.key, led.key)) return { status: 403, message: 'Wrong peer key for this fill' };
    const { fill } = led;
    const size = fill.status.size;
    const partSize = fill.partSize;
    if (partSize === undefined || index >= partCount({ size, partSize }) || size <= partSize) return { status: 404, message: 'No such part' };
    const deadline = Date.now() + (this.params.waitMs ?? DEFAULT_PEER_WAIT_MS);
    for (;;) {
      if (this.leading.get(etag) !== led || fill.state !== 'running') return { status: 404, message: 'The fill ended' };
      const stream = fill.localPart(index);
      if (stream) return { status: 200, length: partLength({ size, partSize, index }), stream };
      // Landed, but it left memory unspooled (no transfer was behind it): the store has it.
      if (fill.landed.has(index)) return { status: 404, message: 'That part is no longer here: it is in the store' };
      const left = deadline - Date.now();
      if (left <= 0 || request.signal.aborted || this.params.signal.aborted) return { status: 404, message: 'Part not landed yet' };
      await waitFor({ changed: fill.changed(), ms: left, signals: [request.signal, this.params.signal] });
    }
  }
}

/** Constant-time for equal lengths; hashing first makes the lengths equal. */
function sameKey(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** Resolves when the fill changed, the time is up or a signal aborts, whichever comes first. */
function waitFor(params: { changed: Promise<void>; ms: number; signals: AbortSignal[] }): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      for (const signal of params.signals) signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, params.ms);
    for (const signal of params.signals) signal.addEventListener('abort', done, { once: true });
    void params.changed.then(done);
  });
}
