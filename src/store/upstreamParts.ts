/**
 * Where the filling replica's upstream bytes go (s3Upload): cut into parts at fixed offsets,
 * hashed as they arrive (the whole blob's hash, and each part's sha256 for its part object), each
 * full part PUT as its part object while the next one is received.
 *
 * Two ways in, one bookkeeping: the raw socket reader asks for room and reports what landed there
 * (`space`/`commit`: the kernel copies straight into the part buffer, no Buffer per chunk), and
 * node:http's chunks are copied in (`write`). Both hash the bytes just received, while they are
 * still in the CPU's cache, rather than in a second pass over each 16 MiB part.
 *
 * Two parts are PUT at once while the next is received: with one, the store sat idle between
 * PUTs whenever its threads waited for a busy core (a cold 1 GiB fill took 40 s with one client
 * and 53 s with twelve; with two, 37 s and 49 s). Three part buffers take turns, reused: a fresh
 * 16 MiB buffer per part cost more CPU in page faults than the copy into it. So room for the next
 * part exists only once the oldest PUT (and its hand-on to the fill) is done: `space` answers
 * undefined meanwhile and `onRoom` says when to ask again. Parts are handed on in order.
 */
import { createHash, type Hash } from 'node:crypto';
import type { StreamingHasher } from '../cache/hashFile.js';
import { HubcacheError } from '../errors.js';
import { unquote, type S3Connection } from './s3Connection.js';
import type { S3Keys } from './s3Keys.js';
import { partLength } from './partLength.js';
import { putPartObject } from './putPartObject.js';

/** Part PUTs at once: the store's latency per PUT grows when its cores are busy with other work. */
const PUTS_IN_FLIGHT = 2;

export interface UpstreamPartsParams {
  conn: S3Connection;
  keys: S3Keys;
  etag: string;
  size: number;
  partSize: number;
  /** The whole blob fits one part: kept in one buffer for one PutObject, no part objects. */
  small: boolean;
  /** Where upstream's bytes start (a takeover resumes after the parts already stored). */
  offset: number;
  /** Leading bytes upstream sends that are already stored (a 200 to a Range from `offset`). */
  skip: number;
  hasher: StreamingHasher;
  /** Filled in: the store's ETag of each part, by index. */
  partEtags: string[];
  onPart?: ((index: number, data: Uint8Array) => void | Promise<void>) | undefined;
  assertLease?: (() => void) | undefined;
  /** There is room again after `space` answered undefined. */
  onRoom?: () => void;
}

export class UpstreamParts {
  /** Bytes of the blob received so far (skipped ones not counted), as an offset into the blob. */
  position: number;
  /** The first failure (a PUT, the lease, too many bytes): once set, `space` gives no more room. */
  failure: Error | undefined;
  private index: number;
  private skip: number;
  private buffer: Buffer;
  private filled = 0;
  private partHash: Hash | undefined;
  /** The last part's PUT and hand-on (which waits for every part before it). */
  private putting: Promise<void> = Promise.resolve();
  /** Parts being PUT, oldest first; a buffer is free once its part's `done` settles. */
  private inFlight: Array<{ buffer: Buffer; done: Promise<void> }> = [];
  /** The hand-over of the last full part (waiting for the PUT before it); room returns when it ends. */
  private handing: Promise<void> | undefined;
  private scratch: Buffer | undefined;

  constructor(private readonly params: UpstreamPartsParams) {
    this.position = params.offset;
    this.index = params.offset / params.partSize;
    this.skip = params.skip;
    this.buffer = Buffer.allocUnsafe(params.small ? params.size : this.partLength());
    this.partHash = params.small ? undefined : createHash('sha256');
  }

  /** Room for the next bytes, or undefined while none (see `onRoom`) or after a failure. */
  space(): Buffer | undefined {
    if (this.failure !== undefined) return undefined;
    if (this.skip > 0) {
      this.scratch ??= Buffer.allocUnsafe(256 * 1024);
      return this.scratch.subarray(0, Math.min(this.scratch.length, this.skip));
    }
    if (this.handing !== undefined || this.position >= this.params.size) return undefined;
    return this.buffer.subarray(this.filled);
  }

  /** `n` bytes landed at the start of the last `space()`. */
  commit(n: number): void {
    if (this.skip > 0) {
      this.skip -= n;
      return;
    }
    const bytes = this.buffer.subarray(this.filled, this.filled + n);
    this.params.hasher.update(bytes);
    this.partHash?.update(bytes);
    this.filled += n;
    this.position += n;
    if (this.filled === this.buffer.byteLength && !this.params.small) this.partFull();
  }

  /** node:http's way in: copies `chunk` in, waiting for room as needed. */
  async write(chunk: Uint8Array): Promise<void> {
    let rest = chunk;
    while (rest.byteLength > 0) {
      if (this.failure !== undefined) throw this.failure;
      const room = this.space();
      if (room === undefined) {
        if (this.handing === undefined) {
          // No room and nothing pending: the blob is complete, and upstream sends more.
          throw new HubcacheError({ code: 'E_INTEGRITY', message: `Upstream sent more than the ${this.params.size} bytes announced for ${this.params.etag}` });
        }
        await this.handing;
        continue;
      }
      const n = Math.min(room.byteLength, rest.byteLength);
      room.set(rest.subarray(0, n));
      this.commit(n);
      rest = rest.subarray(n);
    }
  }

  /** After the last byte: waits for the last PUT; the whole blob's buffer when `small`. */
  async end(): Promise<Buffer | undefined> {
    await this.handing;
    await this.putting;
    if (this.failure !== undefined) throw this.failure;
    return this.params.small ? this.buffer : undefined;
  }

  /** Stops at the first failure: no more room, and `end` throws it. */
  fail(err: Error): void {
    this.failure ??= err;
    this.params.onRoom?.();
  }

  /** The length of the part being received. */
  private partLength(): number {
    return partLength({ size: this.params.size, partSize: this.params.partSize, index: this.index });
  }

  private partFull(): void {
    const full = this.buffer;
    const at = this.index;
    const sha256 = this.partHash!.digest('hex');
    this.partHash = createHash('sha256');
    this.index += 1;
    this.filled = 0;
    this.handing = this.handOver(full, at, sha256).then(
      () => {
        this.handing = undefined;
        this.params.onRoom?.();
      },
      (err: Error) => {
        this.handing = undefined;
        this.fail(err);
      },
    );
  }

  /** Starts part `at`'s PUT once a PUT slot is free, and makes a freed buffer the next part's room. */
  private async handOver(full: Buffer, at: number, sha256: string): Promise<void> {
    const { conn, keys, etag } = this.params;
    // PUTS_IN_FLIGHT PUTs at once while the next part is received: wait for the oldest (and its spooling).
    let free: Buffer | undefined;
    if (this.inFlight.length >= PUTS_IN_FLIGHT) {
      const oldest = this.inFlight.shift()!;
      await oldest.done;
      free = oldest.buffer;
    }
    this.params.assertLease?.();
    const put = putPartObject({ conn, key: keys.part(etag, at), body: full, sha256 });
    // Parts are handed on in order (a later PUT may finish first). Both are waited for even when
    // one fails (not Promise.all): `end` must not throw while an earlier part's hand-on still runs,
    // or the caller drops the fill's buffers under it.
    const done = Promise.allSettled([put, this.putting]).then(async ([putResult, before]) => {
      if (before.status === 'rejected') throw before.reason;
      if (putResult.status === 'rejected') throw putResult.reason;
      this.params.partEtags[at] = unquote(putResult.value);
      await this.params.onPart?.(at, full);
    });
    this.putting = done;
    // Observed by a later hand-over or by `end`.
    done.catch(() => undefined);
    this.inFlight.push({ buffer: full, done });
    if (this.position < this.params.size) {
      const length = this.partLength();
      this.buffer = free !== undefined && free.byteLength >= length ? free.subarray(0, length) : Buffer.allocUnsafe(length);
    }
  }
}
