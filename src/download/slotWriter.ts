import { HubcacheError } from '../errors.js';
import { networkError } from '../hub/hubRequest.js';
import type { RawHttpResponse } from '../hub/rawHttpGet.js';
import type { RingSlot } from '../cache/ringWriter.js';
import type { Segment } from './partialState.js';
import { WRITE_BUFFER, type Stager } from './plainStager.js';

/**
 * Fills staging slots with one stream's bytes and writes each full slot at
 * its place in the partial file. Writes run one after another, in file
 * order, so `segment.done` only ever counts bytes that are on disk with
 * nothing missing before them (the resume state depends on it). Receiving
 * goes on meanwhile into the other slots.
 */
export class SlotWriter {
  private writes: Promise<void> = Promise.resolve();
  private slot: RingSlot | undefined;
  private filled = 0;
  private position: number;
  private waitingForSlot = false;
  private closed = false;
  private onWriteFailed: (() => void) | undefined;

  /** The first failed write: receiving stops, since nothing more can reach the file. */
  private failed: unknown;

  /** Body bytes still to drop before the first one this segment needs (a whole-file 200 to a Range request). */
  private skip: number;
  private scratch: Buffer | undefined;

  constructor(
    private readonly args: {
      segment: Segment;
      /** Where in the file the body's first byte belongs: the segment's next byte, or 0 for a whole-file body. */
      bodyStart: number;
      /** Where the body ends in the file; past the segment's end, the rest is not read. */
      bodyEnd: number;
      stager: Stager;
      onWritten: (bytes: number) => void;
      what: string;
    },
  ) {
    this.position = args.segment.start + args.segment.done;
    this.skip = this.position - args.bodyStart;
  }

  /** Bytes the segment still needs from this body, beyond those in the current slot. */
  private wanted(): number {
    return this.args.segment.end - this.position - this.filled;
  }

  /** Body bytes through node:http: copied from its chunks into the slots. */
  async receiveStream(params: { body: AsyncIterable<Buffer> & { destroy(err?: Error): unknown }; url: string }): Promise<void> {
    const { segment, stager } = this.args;
    try {
      for await (const chunk of params.body) {
        if (this.failed) throw this.failed;
        let offset = Math.min(this.skip, chunk.length);
        this.skip -= offset;
        const past = chunk.length - offset - this.wanted();
        if (past > 0 && this.args.bodyEnd <= segment.end) {
          throw new HubcacheError({ code: 'E_INTEGRITY', message: `Cannot ${this.args.what}: the server sent more bytes than announced` });
        }
        const until = past > 0 ? chunk.length - past : chunk.length;
        while (offset < until) {
          this.slot ??= await stager.acquire();
          const n = Math.min(until - offset, WRITE_BUFFER - this.filled);
          chunk.copy(this.slot.buffer, this.filled, offset, offset + n);
          this.filled += n;
          offset += n;
          if (this.filled === WRITE_BUFFER) this.flush();
        }
        // A whole-file body for a segment that ends earlier: the rest belongs to other streams.
        if (past > 0) break;
      }
    } catch (err) {
      params.body.destroy();
      await this.stop();
      throw networkError({ err, url: params.url, what: this.args.what });
    }
    await this.end();
  }

  /** Body bytes from the raw socket reader: read by the kernel (http) or decrypted by Node's TLS layer (https) straight into the slots. */
  async receiveRaw(params: { response: RawHttpResponse; url: string }): Promise<void> {
    const { response } = params;
    const { segment } = this.args;
    const { bodyStart, bodyEnd } = this.args;
    if (response.contentLength !== bodyEnd - bodyStart) {
      response.close();
      throw new HubcacheError({
        code: 'E_HTTP',
        message: `Cannot ${this.args.what}: the server announced ${response.contentLength} bytes, expected ${bodyEnd - bodyStart}`,
      });
    }
    this.onWriteFailed = () => response.close();
    try {
      await response.receive({
        space: () => {
          if (this.skip > 0) {
            this.scratch ??= Buffer.allocUnsafe(256 * 1024);
            return this.scratch.subarray(0, Math.min(this.scratch.length, this.skip));
          }
          const wanted = this.wanted();
          if (wanted <= 0) return undefined;
          const room = this.space(() => response.wake());
          return room && room.length > wanted ? room.subarray(0, wanted) : room;
        },
        commit: (n) => {
          if (this.skip > 0) {
            this.skip -= n;
            return;
          }
          this.filled += n;
          if (this.filled === WRITE_BUFFER) this.flush();
          // A whole-file body for a segment that ends earlier: stop reading once the segment is full.
          if (this.wanted() === 0 && bodyEnd > segment.end) response.close();
        },
      });
    } catch (err) {
      await this.stop();
      throw networkError({ err, url: params.url, what: this.args.what });
    }
    await this.end();
  }

  /** The free part of the current slot; without one, asks for a slot and calls `onRoom` when it comes. */
  private space(onRoom: () => void): Buffer | undefined {
    if (!this.slot) {
      if (this.waitingForSlot) return undefined;
      this.slot = this.args.stager.tryAcquire();
      if (!this.slot) {
        this.waitingForSlot = true;
        void this.args.stager.acquire().then((slot) => {
          this.waitingForSlot = false;
          if (this.closed) {
            this.args.stager.giveBack(slot);
            return;
          }
          this.slot = slot;
          onRoom();
        });
        return undefined;
      }
    }
    return this.slot.buffer.subarray(this.filled);
  }

  private flush(): void {
    const { slot } = this;
    if (!slot || this.filled === 0) return;
    const { segment, stager } = this.args;
    const length = this.filled;
    const written = stager.submit(slot, length, this.position);
    // Its failure is reported through `writes`, in order; this only keeps it from counting as unhandled meanwhile.
    written.catch(() => undefined);
    this.position += length;
    this.slot = undefined;
    this.filled = 0;
    // Counted in file order, and only once on disk: the resume state depends on both.
    this.writes = this.writes.then(async () => {
      await written;
      segment.done += length;
      this.args.onWritten(length);
    });
    this.writes.catch((err: unknown) => {
      this.failed ??= err;
      this.onWriteFailed?.();
    });
  }

  /** After a failure: keep whatever reached us (written and counted, so it is not fetched again). */
  private async stop(): Promise<void> {
    this.closed = true;
    this.flush();
    await this.writes.catch(() => undefined);
    if (this.slot) this.args.stager.giveBack(this.slot);
    this.slot = undefined;
  }

  private async end(): Promise<void> {
    this.closed = true;
    this.flush();
    // A slot taken but never filled (the body ended as it was handed over) goes back to the pool.
    if (this.slot) this.args.stager.giveBack(this.slot);
    this.slot = undefined;
    await this.writes;
    const { segment } = this.args;
    if (segment.start + segment.done < segment.end) {
      // The body ended early without a socket error (a short body): retry from here.
      throw new HubcacheError({
        code: 'E_NETWORK',
        message: `Cannot ${this.args.what}: the connection ended ${segment.end - segment.start - segment.done} bytes early`,
        data: { failure: 'short-body' },
      });
    }
  }
}
