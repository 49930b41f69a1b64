/**
 * One blob being filled into the shared store, as this replica sees it: filled here (this replica
 * holds the lease) or by another replica (this one follows). Readers read the fill's part objects
 * from the store as they land, whoever writes them, and switch to the complete blob once it
 * exists. As in `blobFill`, the blob's last byte is held back until the blob is verified (it
 * exists in the store only then), so a fill that fails ends its readers with an error: a whole-file
 * client gets a cut transfer, never a complete wrong file.
 */
import { Readable } from 'node:stream';
import type { BlobReader, FillStatus } from './blobStore.js';

export interface S3FillSource {
  /** Bytes `start..end` of part `index`, or undefined while that part is not in the store. */
  readPart(params: { index: number; start: number; end: number }): Promise<AsyncIterable<Uint8Array> | undefined>;
  /** The complete, verified blob. */
  final(): BlobReader;
}

export class S3Fill {
  state: 'running' | 'verified' | 'failed' = 'running';
  error: Error | undefined;
  /** Known once a lease was read or taken (every filler of a blob cuts it at the same offsets). */
  partSize: number | undefined;
  role: 'leader' | 'follower' | 'starting' = 'starting';
  /** Parts known to be in the store (bytes, for status). */
  written = 0;
  private isStarted = false;
  readonly startedAt = Date.now();
  private waiters: Array<() => void> = [];

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

  onPart(bytesInStore: number): void {
    this.written = Math.max(this.written, bytesInStore);
    this.wake();
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
    this.wake();
  }

  /** Something may have changed (a poll of the store, a part uploaded here). */
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

  reader(): BlobReader {
    return { etag: this.status.etag, size: this.status.size, cached: false, stream: (range) => Readable.from(this.read(range), { objectMode: false }) };
  }

  private async *read(range: { start: number; end: number }): AsyncGenerator<Uint8Array> {
    const size = this.status.size;
    let position = range.start;
    while (position < range.end) {
      if (this.state === 'failed') throw this.error ?? new Error('fill failed');
      if (this.state === 'verified') {
        for await (const chunk of this.source.final().stream({ start: position, end: range.end })) yield chunk as Uint8Array;
        return;
      }
      const partSize = this.partSize;
      // A blob of one part is written whole: nothing to read before it is verified.
      if (partSize === undefined || size <= partSize) {
        await this.pause();
        continue;
      }
      const index = Math.floor(position / partSize);
      const limit = Math.min(range.end, (index + 1) * partSize, size - 1);
      if (position >= limit) {
        await this.pause();
        continue;
      }
      let body: AsyncIterable<Uint8Array> | undefined;
      try {
        body = await this.source.readPart({ index, start: position - index * partSize, end: limit - index * partSize });
      } catch {
        body = undefined;
      }
      if (body === undefined) {
        await this.pause();
        continue;
      }
      try {
        for await (const chunk of body) {
          position += chunk.byteLength;
          yield chunk;
        }
      } catch {
        // The part was deleted under us (the blob was just completed) or the read broke: the next
        // turn reads on from `position`, from the part or from the blob.
        await this.pause();
      }
    }
  }
}
