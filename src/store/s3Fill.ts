/**
 * One blob being filled into the shared store, as this replica sees it: filled here (this replica
 * holds the lease) or by another replica (this one follows).
 *
 * Each part is brought to this replica once (the filler has its own parts as it uploads them; a
 * follower gets each part from the filling peer or the store as it lands) and kept in memory while
 * it is among the last few, in pooled buffers (bufferPool: reused only once every slice lent to a
 * socket is back): readers at the live edge (nearly all of them: clients of a cold fill move
 * together) are handed slices of them, so N clients on a replica cost the store one read of each
 * part, not N. A part leaving memory goes to a spool file in the cache's temp folder only when a
 * local reader (or a peer's transfer) is still behind its end; a reader that gets to a part that
 * is neither in memory nor spooled (it started late) reads it from the store's part object. Writing
 * every part to the spool cost each replica more CPU than anything else it did with the bytes (on
 * this kind of VM, over half of it: page-cache pages are fresh memory), for bytes nearly nobody
 * read back. Once the blob is complete, parts not here are read from the blob.
 * As in `blobFill`, the blob's last byte is held back until the blob is verified (it exists in the
 * store only then), so a fill that fails ends its readers with an error: a whole-file client gets a
 * cut transfer, never a complete wrong file. The spool is deleted when the fill and its readers end.
 */
import { open, unlink, type FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { BlobReader, FillStatus } from './blobStore.js';
import { BufferPool, type PooledBuffer } from './bufferPool.js';

const READ_CHUNK = 1024 * 1024;
/** Parts kept in memory (16 MiB each by default): readers further behind read the spool or the store. */
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
  /**
   * Bytes `start..end` of landed part `index` as the store holds it (its part object), for a
   * reader (or a peer's transfer) that got there after the part left memory; undefined when that
   * object is gone (the fill completed and cleaned up: the blob is there).
   */
  storedPart(params: { index: number; start: number; end: number }): Promise<AsyncIterable<Uint8Array> | undefined>;
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
  /** Parts this replica has had the bytes of (in memory, spooled, or let go: then in the store). */
  readonly landed = new Set<number>();
  /** Parts in the spool file. */
  private readonly spooled = new Set<number>();
  /** Where each running reader (local, or a peer's transfer) is: parts behind none of them are not spooled. */
  private readonly positions = new Set<{ at: number }>();
  /**
   * The last MEMORY_PARTS parts' bytes by index, oldest first, each a copy held by this map. A
   * slice handed to a socket holds its buffer too, so it stays right however long the write takes,
   * after the part left the map; the buffer is rewritten (for a later part) only once all are back.
   */
  private readonly inMemory = new Map<number, PooledBuffer>();
  /** The buffers of parts that left memory, to reuse; dropped with the fill. */
  private readonly pool = new BufferPool({ maxFree: 1 });
  /** Parts a follower took in, by where it got them (the leading peer, or the store). */
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
   * Part `index` is in the store; `data` (when this replica has its bytes) goes into the memory
   * window. `data` is copied: the caller may reuse it once this resolves.
   */
  async onPart(index: number, data: Uint8Array | undefined): Promise<void> {
    const partSize = this.partSize!;
    this.written = Math.max(this.written, Math.min(this.status.size, (index + 1) * partSize));
    if (data !== undefined && !this.landed.has(index) && !this.removed) {
      // The oldest part leaves first, so its buffer (when no socket still has a slice of it) is the
      // one this part is copied into: one spare buffer in the pool is enough.
      while (this.inMemory.size >= MEMORY_PARTS) await this.leaveMemory();
      // The fill failed while a part was being spooled: its bytes are never read again.
      if (this.state === 'failed') return;
      const own = this.pool.take(data.byteLength);
      own.bytes.set(data);
      this.inMemory.set(index, own);
      this.landed.add(index);
    }
    this.wake();
  }

  /** The oldest part leaves memory: to the spool first when a reader is still behind its end. */
  private async leaveMemory(): Promise<void> {
    const [oldest, part] = this.inMemory.entries().next().value as [number, PooledBuffer];
    const end = Math.min(this.status.size, (oldest + 1) * this.partSize!);
    if (!this.spooled.has(oldest) && !this.removed && [...this.positions].some((reader) => reader.at < end)) {
      // Still in memory while it is written, so readers meanwhile are served from there.
      const { handle } = await this.openSpool();
      await handle.write(part.bytes, 0, part.bytes.byteLength, oldest * this.partSize!);
      this.spooled.add(oldest);
      // Forgotten meanwhile (the fill failed, or its spool was removed): its hold is already
      // released, and a second release would let the pool reuse the buffer while a slice is lent.
      if (this.inMemory.get(oldest) !== part) return;
    }
    this.inMemory.delete(oldest);
    part.release();
  }

  private forgetParts(): void {
    for (const part of this.inMemory.values()) part.release();
    this.inMemory.clear();
  }

  /** The first part not landed here (what a follower copies next), or undefined when all have. */
  nextMissingPart(): number | undefined {
    if (this.partSize === undefined || this.status.size <= this.partSize) return undefined;
    const parts = Math.ceil(this.status.size / this.partSize);
    for (let index = 0; index < parts; index++) if (!this.landed.has(index)) return index;
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
   * Part `index` from memory or the spool, for a follower replica (s3PeerParts): undefined when it
   * is not here (not landed yet, or it left memory unspooled: it is in the store). Unlike `reader`,
   * nothing is held back: the part is already in the store, and the follower checks these bytes
   * against the store's part before it uses them.
   */
  localPart(index: number): Readable | undefined {
    const partSize = this.partSize;
    if (partSize === undefined || !this.isLocal(index)) return undefined;
    const start = index * partSize;
    return Readable.from(this.readPart(index, start, Math.min(start + partSize, this.status.size)), { objectMode: false });
  }

  /** The bytes of part `index` are here: in memory, or in the spool. */
  private isLocal(index: number): boolean {
    return this.inMemory.has(index) || (this.spooled.has(index) && !this.removed);
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
    const position = { at: range.start };
    this.readers += 1;
    this.positions.add(position);
    try {
      yield* this.readRange(range, position);
    } finally {
      this.readers -= 1;
      this.positions.delete(position);
      void this.maybeRemoveSpool();
    }
  }

  /** Bytes `start`..`end` of part `index` (here when asked), for a peer. */
  private async *readPart(index: number, start: number, end: number): AsyncGenerator<Uint8Array> {
    const position = { at: start };
    this.readers += 1;
    this.positions.add(position);
    try {
      for (; position.at < end; ) {
        if (!this.isLocal(index)) {
          // It left memory unspooled between the check and this read (a transfer is tracked only once
          // its stream is read): the store's part object has the same bytes. A cut transfer would make
          // the follower give up on this peer for the rest of the fill.
          if (yield* this.fromStored(index, position, end)) continue;
          throw new Error('the part is no longer here');
        }
        const chunk = await this.partChunk(index, position.at, end);
        position.at += chunk.byteLength;
        yield chunk;
      }
    } finally {
      this.readers -= 1;
      this.positions.delete(position);
      void this.maybeRemoveSpool();
    }
  }

  /**
   * The next bytes of part `index` (here: `isLocal`) from `position`, never past `end`: a slice of
   * the part in memory when it is still there, else up to READ_CHUNK bytes read from the spool.
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

  /** Bytes of `range`, with `reader.at` (where this reader is, for `leaveMemory`) as its position. */
  private async *readRange(range: { start: number; end: number }, reader: { at: number }): AsyncGenerator<Uint8Array> {
    const size = this.status.size;
    while (reader.at < range.end) {
      if (this.state === 'failed') throw this.error ?? new Error('fill failed');
      const partSize = this.partSize;
      const verified = this.state === 'verified';
      if (partSize === undefined || size <= partSize) {
        // A blob of one part is written whole: nothing to read before it is verified.
        if (verified) {
          yield* this.fromFinal(reader.at, range.end);
          return;
        }
        await this.pause();
        continue;
      }
      const index = Math.floor(reader.at / partSize);
      const partEnd = Math.min((index + 1) * partSize, size);
      const limit = Math.min(range.end, partEnd, verified ? size : size - 1);
      if (reader.at >= limit) {
        await this.pause();
        continue;
      }
      if (this.isLocal(index)) {
        const chunk = await this.partChunk(index, reader.at, limit);
        reader.at += chunk.byteLength;
        yield chunk;
        continue;
      }
      if (this.landed.has(index) && !verified) {
        // It left memory before this reader got here (it started late): the store has it.
        const found = yield* this.fromStored(index, reader, limit);
        // The part object is gone: the fill completed (or failed); the loop sees which.
        if (!found) await this.pause();
        continue;
      }
      if (verified) {
        const until = Math.min(range.end, partEnd);
        for await (const chunk of this.fromFinal(reader.at, until)) {
          reader.at += chunk.byteLength;
          yield chunk;
        }
        continue;
      }
      await this.pause();
    }
  }

  /**
   * Bytes `reader.at..limit` of landed part `index` from the store's part object, moving `reader.at`
   * on as they are handed out; false when that object is gone (the fill completed and cleaned up).
   */
  private async *fromStored(index: number, reader: { at: number }, limit: number): AsyncGenerator<Uint8Array, boolean> {
    const partStart = index * this.partSize!;
    const stored = await this.source.storedPart({ index, start: reader.at - partStart, end: limit - partStart });
    if (stored === undefined) return false;
    for await (const chunk of stored) {
      const n = Math.min(chunk.byteLength, limit - reader.at);
      reader.at += n;
      yield n === chunk.byteLength ? chunk : chunk.subarray(0, n);
      if (reader.at >= limit) break;
    }
    if (reader.at < limit) throw new Error(`the store's part ${index} ended early`);
    return true;
  }

  private async *fromFinal(start: number, end: number): AsyncGenerator<Uint8Array> {
    for await (const chunk of this.source.final().stream({ start, end })) yield chunk as Uint8Array;
  }
}
