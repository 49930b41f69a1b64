/**
 * Reused buffers for bytes that are handed to sockets without a copy (a fill's parts in memory,
 * see s3Fill), so a cold fill does not allocate a fresh 16 MiB buffer per part: on this kind of
 * VM a fresh buffer costs more CPU in page faults than everything else done with its bytes
 * (copying 1 GiB into fresh 16 MiB buffers 0.5-2.3 s of CPU, into reused ones 0.06 s).
 *
 * A buffer is reused only when nothing can still read it: its owner released it and every slice
 * lent out was given back with `returnLent`, which the server calls from a socket write's
 * callback (the kernel has taken the bytes, or the write was cancelled). A slice that is never
 * given back (a client gone before the write was made, a reader that is not a socket) only keeps
 * its buffer from being reused; the garbage collector frees it. So reuse never depends on every
 * callback arriving, only the saving does.
 */

/** Slice -> the pooled buffer it was lent from (a slice is given back once). */
const lent = new WeakMap<Uint8Array, PooledBuffer>();

export class BufferPool {
  private readonly free: Buffer[] = [];

  constructor(private readonly params: { maxFree: number }) {}

  /** A buffer of exactly `length` bytes (a view of a reused one when one is big enough), held once by the caller. */
  take(length: number): PooledBuffer {
    const index = this.free.findIndex((buffer) => buffer.byteLength >= length);
    // allocUnsafeSlow: a buffer of its own, never a slice of Node's shared small-buffer pool.
    const bytes = index >= 0 ? this.free.splice(index, 1)[0]! : Buffer.allocUnsafeSlow(length);
    return new PooledBuffer(bytes, length, this);
  }

  /** Called by a PooledBuffer nothing holds any more. */
  giveBack(bytes: Buffer): void {
    if (this.free.length < this.params.maxFree) this.free.push(bytes);
  }
}

export class PooledBuffer {
  private holds = 1;
  /** The usable bytes (`length` of the whole buffer). */
  readonly bytes: Buffer;

  constructor(
    private readonly whole: Buffer,
    length: number,
    private readonly pool: BufferPool,
  ) {
    this.bytes = whole.subarray(0, length);
  }

  /** Bytes `start..end` for a socket: this buffer is held until `returnLent(slice)`. */
  lend(start: number, end: number): Buffer {
    this.holds += 1;
    const slice = this.bytes.subarray(start, end);
    lent.set(slice, this);
    return slice;
  }

  /** The owner's hold, or a lent slice's, ends. */
  release(): void {
    this.holds -= 1;
    if (this.holds === 0) this.pool.giveBack(this.whole);
  }
}

/** A socket is done with `chunk`: gives it back if it was lent from a pool (else nothing). */
export function returnLent(chunk: unknown): void {
  if (!(chunk instanceof Uint8Array)) return;
  const from = lent.get(chunk);
  if (from === undefined) return;
  lent.delete(chunk);
  from.release();
}
