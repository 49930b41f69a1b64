/**
 * Sequential reads over a stream of chunks, for the tar reader: exact reads
 * for headers (copied when they straddle two chunks) and zero-copy views for
 * content. A short stream is a typed `TruncatedStreamError`, never a short read.
 */

/** The stream ended before the bytes a reader needed. */
export class TruncatedStreamError extends Error {
  constructor(readonly offset: number) {
    super(`the stream ended at byte ${offset}`);
    this.name = 'TruncatedStreamError';
  }
}

export class ByteReader {
  private chunk: Buffer = Buffer.alloc(0);
  private pos = 0;
  private done = false;
  /** Bytes handed out so far (the stream offset of the next byte). */
  offset = 0;

  /**
   * `chunks` may also read straight into a caller's buffer (`readInto`, a plain file): the bytes
   * it would have put in its next chunk, synchronously, 0 at the end; and `skip` bytes without
   * reading them (returns how many it could, fewer at the end).
   */
  constructor(private readonly chunks: AsyncIterator<Buffer> & { readInto?: (target: Buffer) => number; skip?: (n: number) => number }) {}

  private async fill(): Promise<boolean> {
    while (this.pos >= this.chunk.length) {
      if (this.done) return false;
      const next = await this.chunks.next();
      if (next.done) {
        this.done = true;
        return false;
      }
      this.chunk = next.value;
      this.pos = 0;
    }
    return true;
  }

  /** Up to `max` bytes as a view (valid until the caller is done with it), or undefined at the end. */
  async read(max: number): Promise<Buffer | undefined> {
    if (!(await this.fill())) return undefined;
    const end = Math.min(this.chunk.length, this.pos + max);
    const view = this.chunk.subarray(this.pos, end);
    this.pos = end;
    this.offset += view.length;
    return view;
  }

  /**
   * Copies up to `target.length` bytes into `target`: what is left of the current chunk, else
   * read by the source straight into it when it can (a blob's bytes then reach a write slot
   * with no copy here). 0 at the end of the stream.
   */
  async readInto(target: Buffer): Promise<number> {
    if (target.length === 0) return 0;
    if (this.pos >= this.chunk.length && this.chunks.readInto && !this.done) {
      const n = this.chunks.readInto(target);
      if (n === 0) this.done = true;
      this.offset += n;
      return n;
    }
    const view = await this.read(target.length);
    if (view === undefined) return 0;
    view.copy(target);
    return view.length;
  }

  /** Exactly `n` bytes, or undefined when the stream ends right here; TruncatedStreamError when it ends inside them. */
  async readExact(n: number): Promise<Buffer | undefined> {
    const first = await this.read(n);
    if (first === undefined) return undefined;
    if (first.length === n) return first;
    const parts = [first];
    let have = first.length;
    while (have < n) {
      const part = await this.read(n - have);
      if (part === undefined) throw new TruncatedStreamError(this.offset);
      parts.push(part);
      have += part.length;
    }
    return Buffer.concat(parts, n);
  }

  /** Skips exactly `n` bytes; TruncatedStreamError when the stream ends first. */
  async skip(n: number): Promise<void> {
    let left = n;
    if (left > 0 && this.pos < this.chunk.length) {
      const inChunk = Math.min(left, this.chunk.length - this.pos);
      this.pos += inChunk;
      this.offset += inChunk;
      left -= inChunk;
    }
    if (left > 0 && this.chunks.skip && !this.done) {
      // A blob already in the cache: its bytes in an archive file are passed over, not read.
      const skipped = this.chunks.skip(left);
      this.offset += skipped;
      left -= skipped;
      if (left > 0) {
        this.done = true;
        throw new TruncatedStreamError(this.offset);
      }
    }
    while (left > 0) {
      const part = await this.read(left);
      if (part === undefined) throw new TruncatedStreamError(this.offset);
      left -= part.length;
    }
  }
}
