/**
 * Moves a blob's bytes from the Hub (or its CDN) into a partial file, in one
 * or several ranged streams, retrying transient failures from where each
 * stream stopped, and hashes them on the way: one big stream on the ring's
 * writer and hasher threads, one small stream on the main thread, several
 * streams by following the file behind the writers. Returns the digest; the
 * caller decides whether the bytes are good enough to become a blob.
 *
 * Memory stays bounded whatever the size: one stream stages into eight 1 MiB
 * slots (the ring's, or two plain buffers for a small file), each of several
 * streams into two 1 MiB buffers.
 */
import { open, statfs, type FileHandle } from 'node:fs/promises';
import { createStreamingHasher, HASH_CHUNK_BYTES, type StreamingHasher } from '../cache/hashFile.js';
import { dirname } from 'node:path';
import { HubcacheError, fromSystemError } from '../errors.js';
import { sleep } from '../sleep.js';
import type { HashAlgorithm } from '../cache/etag.js';
import { headerValue, hubRequest, networkError } from '../hub/hubRequest.js';
import { rawHttpGet, type RawHttpResponse } from '../hub/rawHttpGet.js';
import { hubErrorFromResponse } from '../hub/hubErrorFromResponse.js';
import { isRetryable, parseRetryAfter } from '../hub/withRetries.js';
import { createHashFollower, type HashFollower } from './hashFollower.js';
import { createRingWriter, type RingWriter, type RingSlot } from '../cache/ringWriter.js';
import { createPartialState, type PartialState, type Segment } from './partialState.js';

export interface TransferBlobParams {
  url: string;
  /** Sent only while the URL stays on the origin it was given for (never to a CDN on another host). */
  token?: string | undefined;
  size: number;
  etag: string;
  algorithm: HashAlgorithm | undefined;
  partialPath: string;
  statePath: string;
  /** Existing progress to resume from (segments of an adopted partial). */
  resume?: { segments: Segment[]; sourceEtag?: string | undefined } | undefined;
  /** Parallel ranged streams for this file. */
  connections: number;
  signal?: AbortSignal | undefined;
  /** Silence on a stream longer than this counts as a stall (then retried). */
  stallTimeoutMs?: number;
  retries?: number;
  onBytes?: (bytes: number) => void;
  /** The partial file is open (readers may follow it from now on). */
  onOpened?: () => void;
  /** Leading bytes of the partial that are on disk (after each write; lower after a restart from zero). */
  onWatermark?: (bytes: number) => void;
  onRetry?: (info: { attempt: number; delayMs: number; message: string }) => void;
  what: string;
  /**
   * Who reads the body. `auto` (default): the raw socket reader for http:// URLs of files of at
   * least THREADED_MIN_BYTES, node:http otherwise (https, and small files, which gain more from
   * node:http's kept-alive connections). `raw` / `node`: that one whenever it can (tests use both).
   */
  engine?: 'auto' | 'raw' | 'node';
}

export interface TransferBlobResult {
  digest: string | undefined;
  /** Body bytes received over the network in this call. */
  received: number;
  resumedFrom: number;
}

const WRITE_BUFFER = 1024 * 1024;
/** An attempt that received less than this before failing counts as a failure in a row. */
const MIN_PROGRESS_BYTES = 1024 * 1024;
/**
 * From this size up, one stream is written and hashed by the ring's two threads. Below it, the main
 * thread hashes and writes: starting two threads costs more than hashing the whole file (a repo of
 * many small files would start two per file).
 */
export const THREADED_MIN_BYTES = 16 * 1024 * 1024;
/** Ranged streams are worth their overhead only for big files. */
export const MIN_BYTES_PER_CONNECTION = 64 * 1024 * 1024;

class RestartFromZero extends Error {}

export function planSegments(params: { size: number; connections: number }): Segment[] {
  const count = Math.max(1, Math.min(params.connections, Math.floor(params.size / MIN_BYTES_PER_CONNECTION)));
  const segments: Segment[] = [];
  const step = Math.ceil(params.size / count);
  for (let start = 0; start < params.size || segments.length === 0; start += step) {
    segments.push({ start, end: Math.min(params.size, start + step), done: 0 });
    if (params.size === 0) break;
  }
  return segments;
}

export async function transferBlob(params: TransferBlobParams): Promise<TransferBlobResult> {
  let segments = params.resume?.segments.map((s) => ({ ...s })) ?? planSegments({ size: params.size, connections: params.connections });
  let sourceEtag = params.resume?.sourceEtag;
  const resumedFrom = segments.reduce((sum, s) => sum + s.done, 0);
  await checkFreeSpace({ dir: dirname(params.partialPath), needed: params.size - resumedFrom, what: params.what });

  let handle: FileHandle;
  try {
    handle = await open(params.partialPath, params.resume ? 'r+' : 'wx');
  } catch (err) {
    throw fromSystemError({ err, path: params.partialPath, action: 'create the partial download' });
  }
  let received = 0;
  let state: PartialState | undefined;
  let follower: HashFollower | undefined;
  let ring: RingWriter | undefined;
  let inline: StreamingHasher | undefined;
  try {
    for (;;) {
      // The state file comes first: a partial without one is taken for a front-to-back
      // download whose size is its progress, which a preallocated file is not.
      state?.close();
      state = createPartialState({
        statePath: params.statePath,
        header: { version: 1, etag: params.etag, size: params.size, sourceEtag, segments: segments.map(({ start, end }) => ({ start, end })) },
        done: segments.map((s) => s.done),
      });
      // Several streams write at offsets into a file of the final size; one stream only appends,
      // so its file size alone tells how far it got (Python-style partials resume the same way).
      if (segments.length > 1) await handle.truncate(params.size).catch(() => undefined);
      // One big stream: the ring's threads write and hash each slot. One small stream: the main
      // thread hashes each slot as it hands it to the write. Several streams: the follower hashes
      // the file behind them (it can only follow the contiguous prefix).
      const firstSegment = segments[0] as Segment;
      const single = segments.length === 1;
      ring = single && params.size >= THREADED_MIN_BYTES ? createRingWriter({ path: params.partialPath, prefixBytes: firstSegment.done, algorithm: params.algorithm, size: params.size }) : undefined;
      inline = single && !ring && params.algorithm ? await inlineHash({ handle, algorithm: params.algorithm, size: params.size, prefixBytes: firstSegment.done }) : undefined;
      follower = params.algorithm && !single ? createHashFollower({ path: params.partialPath, algorithm: params.algorithm, size: params.size }) : undefined;
      const watermark = (): number => {
        let upTo = 0;
        for (const s of segments) {
          upTo = s.start + s.done;
          if (s.start + s.done < s.end) break;
        }
        return upTo;
      };
      follower?.advance(watermark());
      params.onOpened?.();
      params.onWatermark?.(watermark());
      const controller = new AbortController();
      const onAbort = (): void => controller.abort(params.signal?.reason);
      params.signal?.addEventListener('abort', onAbort, { once: true });
      try {
        const outcomes = await Promise.allSettled(
          segments.map((segment, index) =>
            runSegment({
              params,
              segment,
              stager: ring ?? plainStager({ handle, onSubmit: inline?.update }),
              ranged: segments.length > 1 || segment.done > 0,
              signal: controller.signal,
              getSourceEtag: () => sourceEtag,
              onSourceEtag: (etag) => {
                sourceEtag = etag;
                state?.setSourceEtag(etag);
              },
              onWritten: (bytes) => {
                received += bytes;
                state?.setDone(index, segment.done);
                follower?.advance(watermark());
                params.onWatermark?.(watermark());
                params.onBytes?.(bytes);
              },
            }).catch((err: unknown) => {
              // One stream failing for good stops the others at once.
              controller.abort(err);
              throw err;
            }),
          ),
        );
        // Every stream has settled, so no write of this attempt is still on its way to the file.
        if (outcomes.some((o) => o.status === 'rejected')) throw controller.signal.reason;
      } catch (err) {
        if (err instanceof RestartFromZero) {
          // The server ignored our Range: what it sends is the whole file, so start over with one stream.
          params.onBytes?.(-segments.reduce((sum, s) => sum + s.done, 0));
          segments = [{ start: 0, end: params.size, done: 0 }];
          follower?.abort();
          await ring?.close();
          await handle.truncate(0);
          sourceEtag = undefined;
          continue;
        }
        throw err;
      } finally {
        params.signal?.removeEventListener('abort', onAbort);
      }
      break;
    }
    const stats = await handle.stat();
    if (stats.size !== params.size) {
      throw new HubcacheError({
        code: 'E_INTEGRITY',
        message: `Cannot ${params.what}: received ${stats.size} bytes, expected ${params.size}`,
        data: { expected: params.size, actual: stats.size },
      });
    }
    const digest = ring ? await ring.finish() : inline ? inline.digest() : follower ? await follower.finish() : undefined;
    return { digest, received, resumedFrom };
  } catch (err) {
    throw fromSystemError({ err, path: params.partialPath, action: `write ${params.what}` });
  } finally {
    follower?.abort();
    await ring?.close();
    state?.close();
    await handle.close().catch(() => undefined);
  }
}

async function checkFreeSpace(params: { dir: string; needed: number; what: string }): Promise<void> {
  try {
    const fs = await statfs(params.dir);
    const free = Number(fs.bavail) * Number(fs.bsize);
    if (free < params.needed) {
      throw new HubcacheError({
        code: 'E_DISK_FULL',
        message: `Cannot ${params.what}: it needs ${params.needed} bytes and only ${free} are free in ${params.dir}`,
        hint: 'Free disk space (for example `hubcache evict --max-size SIZE` or `hubcache gc`) and run again; nothing was written.',
        data: { needed: params.needed, free, path: params.dir },
      });
    }
  } catch (err) {
    if (err instanceof HubcacheError) throw err;
    // statfs unsupported here: the writes themselves will report ENOSPC.
  }
}

/** One stream's job: fill `segment` of the partial file. */
interface SegmentJob {
  params: TransferBlobParams;
  segment: Segment;
  ranged: boolean;
  signal: AbortSignal;
  getSourceEtag: () => string | undefined;
  onSourceEtag: (etag: string) => void;
  onWritten: (bytes: number) => void;
  stager: Stager;
}

async function runSegment(args: SegmentJob): Promise<void> {
  const { params, segment, signal } = args;
  const retries = params.retries ?? 5;
  // The retry budget counts failures in a row without progress: a long download on a flaky
  // link keeps going as long as each attempt moves it forward, and backs off only when stuck.
  let failuresInARow = 0;
  while (segment.start + segment.done < segment.end) {
    const before = segment.done;
    try {
      await streamOnce({ ...args, ranged: args.ranged || segment.done > 0 });
    } catch (err) {
      if (!isRetryable(err) || signal.aborted) throw err;
      // A connection that dies after a few bytes every time is stuck, not progressing.
      failuresInARow = segment.done - before >= MIN_PROGRESS_BYTES ? 1 : failuresInARow + 1;
      if (failuresInARow > retries) throw err;
      const retryAfter = typeof err.data.retryAfterMs === 'number' ? err.data.retryAfterMs : undefined;
      const delayMs = Math.min(8_000, retryAfter ?? 250 * 2 ** (failuresInARow - 1));
      params.onRetry?.({ attempt: failuresInARow, delayMs, message: err.message });
      await sleep({ ms: delayMs, signal });
    }
  }
}

/** A response whose body is about to be written: from the raw socket reader or from node:http. */
interface OpenedBody {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  url: string;
  discard(): Promise<void>;
  writeTo(writer: SlotWriter): Promise<void>;
}

async function openBody(args: SegmentJob, headers: Record<string, string>): Promise<OpenedBody> {
  const { params, signal } = args;
  const bodyTimeoutMs = params.stallTimeoutMs ?? 30_000;
  let url = params.url;
  let token = params.token;
  const engine = params.engine ?? 'auto';
  const raw = engine === 'raw' || (engine === 'auto' && params.size >= THREADED_MIN_BYTES);
  if (raw && new URL(url).protocol === 'http:') {
    const raw = await rawHttpGet({ url, token, headers, signal, bodyTimeoutMs, what: params.what });
    const response = raw.response;
    if (response && (response.contentLength !== undefined || response.status >= 300)) {
      return {
        status: response.status,
        headers: response.headers,
        url: response.url,
        discard: async () => response.close(),
        writeTo: (writer) => writer.receiveRaw({ response, url: response.url }),
      };
    }
    // Not for the raw reader (an https hop, a chunked body): node:http takes it from here. An https
    // hop leaves the http origin, so the token stays behind, as it would on any other-host redirect.
    response?.close();
    if (raw.handOff !== undefined) {
      url = raw.handOff;
      token = undefined;
    }
  }
  const response = await hubRequest({ method: 'GET', url, token, headers, redirects: 'all', signal, bodyTimeoutMs, what: params.what });
  return {
    status: response.status,
    headers: response.headers,
    url: response.url,
    discard: () => response.body.dump().catch(() => undefined),
    writeTo: (writer) => writer.receiveStream({ body: response.body, url: response.url }),
  };
}

async function streamOnce(args: SegmentJob): Promise<void> {
  const { params, segment } = args;
  const from = segment.start + segment.done;
  const headers: Record<string, string> = { 'accept-encoding': 'identity' };
  if (args.ranged) {
    headers.range = `bytes=${from}-${segment.end - 1}`;
    const sourceEtag = args.getSourceEtag();
    // If the bytes behind the URL changed since we started, the server answers 200 with the new whole file.
    if (sourceEtag) headers['if-range'] = sourceEtag;
  }
  const response = await openBody(args, headers);
  if (response.status >= 400) {
    await response.discard();
    if (response.status === 416) {
      throw new HubcacheError({ code: 'E_HTTP', message: `Cannot ${params.what}: the server refused the byte range ${headers.range}`, data: { status: 416 } });
    }
    const err = hubErrorFromResponse({ status: response.status, url: response.url, headers: response.headers, what: params.what, hasToken: Boolean(params.token) });
    const retryAfterMs = parseRetryAfter({ value: headerValue(response.headers, 'retry-after') });
    if (retryAfterMs !== undefined) err.data.retryAfterMs = retryAfterMs;
    throw err;
  }
  const etag = headerValue(response.headers, 'etag');
  if (etag) args.onSourceEtag(etag);
  if (args.ranged) {
    if (response.status === 200) {
      await response.discard();
      throw new RestartFromZero();
    }
    const contentRange = headerValue(response.headers, 'content-range');
    const match = contentRange ? /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(contentRange) : null;
    if (response.status !== 206 || !match || Number(match[1]) !== from) {
      await response.discard();
      throw new HubcacheError({
        code: 'E_HTTP',
        message: `Cannot ${params.what}: asked for bytes from ${from}, the server answered ${response.status} ${contentRange ?? 'without Content-Range'}`,
        data: { status: response.status },
      });
    }
  } else if (response.status !== 200) {
    await response.discard();
    throw new HubcacheError({ code: 'E_HTTP', message: `Cannot ${params.what}: the server answered ${response.status} to a download`, data: { status: response.status } });
  }
  const writer = new SlotWriter({ segment, stager: args.stager, onWritten: args.onWritten, what: params.what });
  await response.writeTo(writer);
}

/** Where received bytes are staged and who writes them: the ring's worker, or two plain buffers written from here. */
interface Stager {
  acquire(): Promise<RingSlot>;
  tryAcquire(): RingSlot | undefined;
  /** Settles once the first `length` bytes of `slot` are in the file at `position`; then the slot is free again. */
  submit(slot: RingSlot, length: number, position: number): Promise<void>;
  giveBack(slot: RingSlot): void;
}

/** A hash of the file so far: the bytes already on disk (a resumed prefix) are read first. */
async function inlineHash(params: { handle: FileHandle; algorithm: HashAlgorithm; size: number; prefixBytes: number }): Promise<StreamingHasher> {
  const hash = createStreamingHasher({ algorithm: params.algorithm, size: params.size });
  const buffer = Buffer.allocUnsafe(HASH_CHUNK_BYTES);
  for (let done = 0; done < params.prefixBytes; ) {
    const { bytesRead } = await params.handle.read(buffer, 0, Math.min(buffer.length, params.prefixBytes - done), done);
    if (bytesRead <= 0) throw new Error('partial file shorter than its recorded progress');
    hash.update(buffer.subarray(0, bytesRead));
    done += bytesRead;
  }
  return hash;
}

/** `onSubmit` sees each slot's bytes when it is handed to the write, which is in file order for one stream. */
function plainStager(params: { handle: FileHandle; onSubmit?: ((bytes: Buffer) => void) | undefined }): Stager {
  const slots: RingSlot[] = [0, 1].map((index) => ({ index, buffer: Buffer.allocUnsafe(WRITE_BUFFER) }));
  const free = [...slots];
  const waiting: Array<(slot: RingSlot) => void> = [];
  // One write at a time: concurrent writes to one file contend on its inode lock.
  let writes: Promise<void> = Promise.resolve();
  const giveBack = (slot: RingSlot): void => {
    const next = waiting.shift();
    if (next) next(slot);
    else free.push(slot);
  };
  return {
    acquire: () => {
      const slot = free.shift();
      return slot ? Promise.resolve(slot) : new Promise((resolve) => waiting.push(resolve));
    },
    tryAcquire: () => free.shift(),
    submit: (slot, length, position) => {
      params.onSubmit?.(slot.buffer.subarray(0, length));
      const written = writes.then(async () => {
        try {
          let done = 0;
          while (done < length) {
            const { bytesWritten } = await params.handle.write(slot.buffer, done, length - done, position + done);
            done += bytesWritten;
          }
        } finally {
          giveBack(slot);
        }
      });
      writes = written.catch(() => undefined);
      return written;
    },
    giveBack,
  };
}

/**
 * Fills staging slots with one stream's bytes and writes each full slot at
 * its place in the partial file. Writes run one after another, in file
 * order, so `segment.done` only ever counts bytes that are on disk with
 * nothing missing before them (the resume state depends on it). Receiving
 * goes on meanwhile into the other slots.
 */
class SlotWriter {
  private writes: Promise<void> = Promise.resolve();
  private slot: RingSlot | undefined;
  private filled = 0;
  private position: number;
  private waitingForSlot = false;
  private closed = false;
  private onWriteFailed: (() => void) | undefined;

  /** The first failed write: receiving stops, since nothing more can reach the file. */
  private failed: unknown;

  constructor(private readonly args: { segment: Segment; stager: Stager; onWritten: (bytes: number) => void; what: string }) {
    this.position = args.segment.start + args.segment.done;
  }

  /** Body bytes through node:http: copied from its chunks into the slots. */
  async receiveStream(params: { body: AsyncIterable<Buffer> & { destroy(err?: Error): unknown }; url: string }): Promise<void> {
    const { segment, stager } = this.args;
    try {
      for await (const chunk of params.body) {
        if (this.failed) throw this.failed;
        if (this.position + this.filled + chunk.length > segment.end) {
          throw new HubcacheError({ code: 'E_INTEGRITY', message: `Cannot ${this.args.what}: the server sent more bytes than announced` });
        }
        let offset = 0;
        while (offset < chunk.length) {
          this.slot ??= await stager.acquire();
          const n = Math.min(chunk.length - offset, WRITE_BUFFER - this.filled);
          chunk.copy(this.slot.buffer, this.filled, offset, offset + n);
          this.filled += n;
          offset += n;
          if (this.filled === WRITE_BUFFER) this.flush();
        }
      }
    } catch (err) {
      params.body.destroy();
      await this.stop();
      throw networkError({ err, url: params.url, what: this.args.what });
    }
    await this.end();
  }

  /** Body bytes from the raw socket reader: read by the kernel straight into the slots. */
  async receiveRaw(params: { response: RawHttpResponse; url: string }): Promise<void> {
    const { response } = params;
    const { segment } = this.args;
    if (response.contentLength !== segment.end - this.position) {
      response.close();
      throw new HubcacheError({
        code: 'E_HTTP',
        message: `Cannot ${this.args.what}: the server announced ${response.contentLength} bytes, expected ${segment.end - this.position}`,
        data: { retryable: true },
      });
    }
    this.onWriteFailed = () => response.close();
    try {
      await response.receive({
        space: () => this.space(() => response.wake()),
        commit: (n) => {
          this.filled += n;
          if (this.filled === WRITE_BUFFER) this.flush();
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
    await this.writes;
    const { segment } = this.args;
    if (segment.start + segment.done < segment.end) {
      // The body ended early without a socket error (a short body): retry from here.
      throw new HubcacheError({
        code: 'E_NETWORK',
        message: `Cannot ${this.args.what}: the connection ended ${segment.end - segment.start - segment.done} bytes early`,
        data: { retryable: true },
      });
    }
  }
}
