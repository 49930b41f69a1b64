/**
 * One blob being filled from upstream, and the readers that stream it while it fills.
 *
 * The fill writes a partial file through the download path (lock, hash while writing, verify,
 * atomic rename) and reports how many leading bytes are on disk. A reader opens the partial (or,
 * once renamed, the blob) itself and sends what is on disk, waiting for more. The blob's last byte
 * is held back until the fill is verified: a fill that fails verification ends every reader with
 * an error, so a whole-file client gets a broken connection and never a complete wrong file.
 * (A ranged reader that ends before the last byte gets its bytes as they land; no client can be
 * told more before the whole blob is hashed, and those clients resume or verify on their own.)
 */
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { BlobReader, FillStatus } from './blobStore.js';

const READ_CHUNK = 1024 * 1024;

export class BlobFill {
  /** Leading bytes of the partial that are on disk. */
  written = 0;
  partialPath: string | undefined;
  state: 'running' | 'verified' | 'failed' = 'running';
  error: Error | undefined;
  readonly startedAt = Date.now();
  private waiters: Array<() => void> = [];

  constructor(
    readonly status: Omit<FillStatus, 'written' | 'startedAt'>,
    /** Where the verified blob lands (readers that start after the rename open it there). */
    readonly blobPath: string,
  ) {}

  /** The partial file now being written (a restart may name a new one). */
  onPartial(path: string): void {
    this.partialPath = path;
    this.wake();
  }

  onWritten(bytes: number): void {
    this.written = bytes;
    this.wake();
  }

  settle(error?: Error): void {
    if (error) {
      this.state = 'failed';
      this.error = error;
    } else {
      this.state = 'verified';
      this.written = this.status.size;
    }
    this.wake();
  }

  snapshot(): FillStatus {
    return { ...this.status, written: this.written, startedAt: this.startedAt };
  }

  /**
   * Resolves once the fill has a byte on disk or has ended well; rejects with its error when it
   * failed first. A route waits for this before it answers, so a fill that cannot start (upstream
   * refuses the GET, the CDN is down, the disk is full) is an error status for the client, not a
   * 200 whose body never comes.
   */
  async started(): Promise<void> {
    while (this.state === 'running' && this.written === 0) await this.changed();
    if (this.state === 'failed') throw this.error ?? new Error('fill failed');
  }

  /** Resolves at the next change of progress or state. */
  changed(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  reader(): BlobReader {
    return { etag: this.status.etag, size: this.status.size, cached: false, stream: (range) => Readable.from(this.read(range), { objectMode: false }) };
  }

  private async *read(range: { start: number; end: number }): AsyncGenerator<Buffer> {
    let position = range.start;
    let handle: Awaited<ReturnType<typeof open>> | undefined;
    let openedPath: string | undefined;
    try {
      while (position < range.end) {
        if (this.state === 'failed') throw this.error ?? new Error('fill failed');
        // The last byte only once everything is verified (see the file comment).
        const available = this.state === 'verified' ? range.end : Math.min(range.end, this.written, this.status.size - 1);
        const path = this.state === 'verified' ? this.blobPath : this.partialPath;
        if (position >= available || path === undefined) {
          await this.changed();
          continue;
        }
        if (handle === undefined || (openedPath !== path && this.state !== 'verified')) {
          await handle?.close();
          handle = undefined;
          try {
            handle = await open(path, 'r');
            openedPath = path;
          } catch (err) {
            // Renamed into blobs/ between our look and the open: the next turn opens the blob.
            if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
              if (this.state === 'running') await this.changed();
              continue;
            }
            throw err;
          }
        }
        const length = Math.min(READ_CHUNK, available - position);
        const buffer = Buffer.allocUnsafe(length);
        const { bytesRead } = await handle.read(buffer, 0, length, position);
        if (bytesRead === 0) {
          await this.changed();
          continue;
        }
        position += bytesRead;
        yield bytesRead === length ? buffer : buffer.subarray(0, bytesRead);
      }
    } finally {
      await handle?.close().catch(() => undefined);
    }
  }
}
