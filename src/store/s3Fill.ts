/**
 * One blob being filled into the shared store, as this replica sees it: filled here (this replica
 * holds the lease) or by another replica (this one follows).
 *
 * Each part is brought to this replica once, into a spool file in the cache's temp folder (the
 * filler writes its own parts there as it uploads them; a follower copies each part from the store
 * as it lands), and every local reader reads it from here: N clients on a replica cost the store
 * one read of each part, not N. The last few parts are also kept in memory, in pooled buffers
 * (bufferPool: reused only once every slice lent to a socket is back), so readers at the live edge
 * (nearly all of them: clients of a cold fill move together) are handed slices of them instead of
 * reading the spool into fresh buffers, which cost this replica more CPU than the sockets did.
 * Once the blob is complete, parts not spooled are read from the blob.
 * As in `blobFill`, the blob's last byte is held back until the blob is verified (it exists in the
 * store only then), so a fill that fails ends its readers with an error: a whole-file client gets a
 * cut transfer, never a complete wrong file. The spool is deleted when the fill and its readers end.
 */
import { open, unlink, type FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { BlobReader, FillStatus } from './blobStore.js';
import { BufferPool, type PooledBuffer } from './bufferPool.js';

const READ_CHUNK = 1024 * 1024;
/** Parts kept in memory (16 MiB each by default): readers further behind read the spool. */
const MEMORY_PARTS = 4;
/**
 * The largest slice of an in-memory part handed out at once. A slice keeps its whole part buffer
 * alive until the socket has taken it, after the part left the window too: smaller slices let a
 * reader whose part left the window move to the spool sooner.
 */
const MEMORY_CHUNK = 4 * 1024 * 1024;

export interface S3FillSource {
  /** The complete, verified blob. */
  final(): BlobReader;
  /** Where the spool file goes (a fresh temp path in the cache's temp folder). */
  spoolPath(): Promise<string>;
}

export class S3Fill {
  state: 'running' | 'verified' | 'failed' = 'running';
  error: Error | undefined;
  /** Known once a lease was read or taken (every filler of a blob cuts it at the same offsets). */
  partSize: number | undefined;
  role: 'leader' | 'follower' | 'starting' = 'starting';
  /** Bytes known to be in the store (status). */
  written = 0;
  /** Parts in the spool file. */
  readonly spooled = new Set<number>();
  /**
   * The last MEMORY_PARTS parts' bytes by index, oldest first, each a copy held by this map. A
   * slice handed to a socket holds its buffer too, so it stays right however long the write takes,
   * after the part left the map; the buffer is rewritten (for a later part) only once all are back.
   */
  private readonly inMemory = new Map<number, PooledBuffer>();
  /** The buffers of parts that left memory, to reuse; dropped with the fill. */
  private readonly pool = new BufferPool({ maxFree: 1 });
  /** Parts a follower spooled, by where it got them (the leading peer, or the store). */
  readonly partsFrom = { peer: 0, store: 0 };
  private isStarted = false;
  readonly startedAt = Date.now();
  private waiters: Array<() => void> = [];
  private spool: Promise<{ path: string; handle: FileHandle }> | undefined;
  private readers = 0;
  private removed = false;

  constructor(
    readonly status: Omit<FillStatus, 'written' | 'startedAt'>,
    private readonly source: S3FillSource,
  ) {}

  /** Bytes can be expected: upstream answered (leader) or a live filler exists (follower). */
  markStarted(partSize: number): void {
    this.partSize = partSize;
    this.isStarted = true;
    this.wake();
  }

  /**
   * Part `index` is in the store; `data` (when this replica has its bytes) goes to the spool and
   * the memory window. `data` is copied: the caller may reuse it once this resolves.
   */
  async onPart(index: number, data: Uint8Array | undefined): Promise<void> {
    const partSize = this.partSize!;
    this.written = Math.max(this.written, Math.min(this.status.size, (index + 1) * partSize));
    if (data !== undefined && !this.spooled.has(index) && !this.removed) {
      this.remember(index, data);
      const { handle } = await this.openSpool();
      await handle.write(data, 0, data.byteLength, index * partSize);
      this.spooled.add(index);
    }
    this.wake();
  }

  private remember(index: number, data: Uint8Array): void {
    // The oldest part leaves first, so its buffer (when no socket still has a slice of it) is the
    // one this part is copied into: one spare buffer in the pool is enough.
    for (const [oldest, part] of this.inMemory) {
      if (this.inMemory.size < MEMORY_PARTS) break;
      this.inMemory.delete(oldest);
      part.release();
    }
    const own = this.pool.take(data.byteLength);
    own.bytes.set(data);
    this.inMemory.set(index, own);
  }

  private forgetParts(): void {
    for (const part of this.inMemory.values()) part.release();
    this.inMemory.clear();
  }

  /** The first part neither spooled nor past the end (what a follower copies next). */
  nextMissingPart(): number | undefined {
    if (this.partSize === undefined || this.status.size <= this.partSize) return undefined;
    const parts = Math.ceil(this.status.size / this.partSize);
    for (let index = 0; index < parts; index++) if (!this.spooled.has(index)) return index;
    return undefined;
  }

  settle(error?: Error): void {
    if (this.state !== 'running') return;
    if (error) {
      this.state = 'failed';
      this.error = error;
    } else {
      this.state = 'verified';
      this.written = this.status.size;
    }
    // A failed fill's bytes are never read again; a verified one's readers may still use them.
    if (error) this.forgetParts();
    this.wake();
    void this.maybeRemoveSpool();
  }

  /** Something may have changed (a poll of the store, a part landed). */
  wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  changed(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Waits for a change while the fill runs; returns at once once it ended (the caller re-checks). */
  private pause(): Promise<void> {
    return this.state === 'running' ? this.changed() : Promise.resolve();
  }

  async started(): Promise<void> {
    while (this.state === 'running' && !this.isStarted) await this.changed();
    if (this.state === 'failed') throw this.error ?? new Error('fill failed');
  }

  snapshot(): FillStatus {
    return { ...this.status, written: this.written, startedAt: this.startedAt };
  }

  /**
   * Part `index` as spooled, for a follower replica (s3PeerParts): undefined when it is not (or no
   * longer) in the spool. Unlike `reader`, nothing is held back: the part is already in the store,
   * and the follower checks these bytes against the store's part before it spools them.
   */
  spooledPart(index: number): Readable | undefined {
    const partSize = this.partSize;
    if (partSize === undefined || !this.spooled.has(index) || this.removed) return undefined;
    const start = index * partSize;
    return Readable.from(this.readPart(index, start, Math.min(start + partSize, this.status.size)), { objectMode: false });
  }

  reader(): BlobReader {
    return { etag: this.status.etag, size: this.status.size, cached: false, stream: (range) => Readable.from(this.read(range), { objectMode: false }) };
  }

  private openSpool(): Promise<{ path: string; handle: FileHandle }> {
    this.spool ??= (async () => {
      const path = await this.source.spoolPath();
      return { path, handle: await open(path, 'w+') };
    })();
    return this.spool;
  }

  private async maybeRemoveSpool(): Promise<void> {
    if (this.state === 'running' || this.readers > 0 || this.removed || this.spool === undefined) return;
    this.removed = true;
    this.forgetParts();
    const { path, handle } = await this.spool;
    await handle.close().catch(() => undefined);
    await unlink(path).catch(() => undefined);
  }

  private async *read(range: { start: number; end: number }): AsyncGenerator<Uint8Array> {
    this.readers += 1;
    try {
      yield* this.readRange(range);
    } finally {
      this.readers -= 1;
      void this.maybeRemoveSpool();
    }
  }

  /** Bytes `start`..`end` of spooled part `index`, for a peer. */
  private async *readPart(index: number, start: number, end: number): AsyncGenerator<Uint8Array> {
    this.readers += 1;
    try {
      // Removed between the check and the first read: the peer's transfer is cut, and it reads the store.
      if (this.removed) throw new Error('the spool was removed');
      for (let position = start; position < end; ) {
        const chunk = await this.partChunk(index, position, end);
        position += chunk.byteLength;
        yield chunk;
      }
    } finally {
      this.readers -= 1;
      void this.maybeRemoveSpool();
    }
  }

  /**
   * The next bytes of spooled part `index` from `position`, never past `end`: a slice of the part
   * in memory when it is still there, else up to READ_CHUNK bytes read from the spool.
   */
  private partChunk(index: number, position: number, end: number): Promise<Buffer> {
    const part = this.inMemory.get(index);
    if (part === undefined) return this.spoolChunk(position, end);
    const offset = position - index * this.partSize!;
    return Promise.resolve(part.lend(offset, offset + Math.min(MEMORY_CHUNK, end - position)));
  }

  /** Up to READ_CHUNK bytes of the spool from `position`, never past `end` (spooled bytes only). */
  private async spoolChunk(position: number, end: number): Promise<Buffer> {
    const { handle } = await this.openSpool();
    const length = Math.min(READ_CHUNK, end - position);
    const buffer = Buffer.allocUnsafe(length);
    const { bytesRead } = await handle.read(buffer, 0, length, position);
    if (bytesRead === 0) throw new Error('spool file shorter than its parts');
    return bytesRead === length ? buffer : buffer.subarray(0, bytesRead);
  }

  private async *readRange(range: { start: number; end: number }): AsyncGenerator<Uint8Array> {
    const size = this.status.size;
    let position = range.start;
    while (position < range.end) {
      if (this.state === 'failed') throw this.error ?? new Error('fill failed');
      const partSize = this.partSize;
      const verified = this.state === 'verified';
      if (partSize === undefined || size <= partSize) {
        // A blob of one part is written whole: nothing to read before it is verified.
        if (verified) {
          yield* this.fromFinal(position, range.end);
          return;
        }
        await this.pause();
        continue;
      }
      const index = Math.floor(position / partSize);
      const partEnd = Math.min((index + 1) * partSize, size);
      const limit = Math.min(range.end, partEnd, verified ? size : size - 1);
      if (position >= limit) {
        await this.pause();
        continue;
      }
      if (this.spooled.has(index) && !this.removed) {
        const chunk = await this.partChunk(index, position, limit);
        position += chunk.byteLength;
        yield chunk;
        continue;
      }
      if (verified) {
        const until = Math.min(range.end, partEnd);
        yield* this.fromFinal(position, until);
        position = until;
        continue;
      }
      await this.pause();
    }
  }

  private async *fromFinal(start: number, end: number): AsyncGenerator<Uint8Array> {
    for await (const chunk of this.source.final().stream({ start, end })) yield chunk as Uint8Array;
  }
}
