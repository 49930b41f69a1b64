/**
 * Moves a blob's bytes from the Hub (or its CDN) into a partial file, in one
 * or several ranged streams, retrying transient failures from where each
 * stream stopped, while a worker hashes them (from memory for one stream,
 * from the file behind the writers for several). Returns the digest; the
 * caller decides whether the bytes are good enough to become a blob.
 *
 * Memory stays bounded whatever the size: one stream stages into the hashing
 * ring's eight 1 MiB slots, each of several streams into two 1 MiB buffers.
 */
import { open, statfs, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { HubcacheError, fromSystemError } from '../errors.js';
import { sleep } from '../sleep.js';
import type { HashAlgorithm } from '../cache/etag.js';
import { headerValue, hubRequest, networkError } from '../hub/hubRequest.js';
import { hubErrorFromResponse } from '../hub/hubErrorFromResponse.js';
import { isRetryable, parseRetryAfter } from '../hub/withRetries.js';
import { createHashFollower, type HashFollower } from './hashFollower.js';
import { createRingHasher, type RingHasher, type RingSlot } from '../cache/ringHasher.js';
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
  onRetry?: (info: { attempt: number; delayMs: number; message: string }) => void;
  what: string;
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
  let ring: RingHasher | undefined;
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
      follower?.abort();
      ring?.abort();
      // One stream: hash from memory as bytes arrive. Several: the follower hashes the file behind
      // them (it can only follow the contiguous prefix).
      const firstSegment = segments[0] as Segment;
      ring = params.algorithm && segments.length === 1 ? createRingHasher({ path: params.partialPath, prefixBytes: firstSegment.done, algorithm: params.algorithm, size: params.size }) : undefined;
      follower = params.algorithm && !ring ? createHashFollower({ path: params.partialPath, algorithm: params.algorithm, size: params.size }) : undefined;
      const watermark = (): number => {
        let upTo = 0;
        for (const s of segments) {
          upTo = s.start + s.done;
          if (s.start + s.done < s.end) break;
        }
        return upTo;
      };
      follower?.advance(watermark());
      const controller = new AbortController();
      const onAbort = (): void => controller.abort(params.signal?.reason);
      params.signal?.addEventListener('abort', onAbort, { once: true });
      try {
        await Promise.all(
          segments.map((segment, index) =>
            runSegment({
              params,
              handle,
              segment,
              stager: ring ?? plainStager(),
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
                params.onBytes?.(bytes);
              },
            }).catch((err: unknown) => {
              // One stream failing for good stops the others at once.
              controller.abort(err);
              throw err;
            }),
          ),
        );
      } catch (err) {
        if (err instanceof RestartFromZero) {
          // The server ignored our Range: what it sends is the whole file, so start over with one stream.
          params.onBytes?.(-segments.reduce((sum, s) => sum + s.done, 0));
          segments = [{ start: 0, end: params.size, done: 0 }];
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
    const digest = ring ? await ring.finish() : follower ? await follower.finish() : undefined;
    return { digest, received, resumedFrom };
  } catch (err) {
    follower?.abort();
    ring?.abort();
    throw fromSystemError({ err, path: params.partialPath, action: `write ${params.what}` });
  } finally {
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
  handle: FileHandle;
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

async function streamOnce(args: SegmentJob): Promise<void> {
  const { params, handle, segment, signal } = args;
  const from = segment.start + segment.done;
  const headers: Record<string, string> = { 'accept-encoding': 'identity' };
  if (args.ranged) {
    headers.range = `bytes=${from}-${segment.end - 1}`;
    const sourceEtag = args.getSourceEtag();
    // If the bytes behind the URL changed since we started, the server answers 200 with the new whole file.
    if (sourceEtag) headers['if-range'] = sourceEtag;
  }
  const response = await hubRequest({
    method: 'GET',
    url: params.url,
    token: params.token,
    headers,
    redirects: 'all',
    signal,
    bodyTimeoutMs: params.stallTimeoutMs ?? 30_000,
    what: params.what,
  });
  if (response.status >= 400) {
    await response.body.dump().catch(() => undefined);
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
      await response.body.dump().catch(() => undefined);
      throw new RestartFromZero();
    }
    const contentRange = headerValue(response.headers, 'content-range');
    const match = contentRange ? /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(contentRange) : null;
    if (response.status !== 206 || !match || Number(match[1]) !== from) {
      await response.body.dump().catch(() => undefined);
      throw new HubcacheError({
        code: 'E_HTTP',
        message: `Cannot ${params.what}: asked for bytes from ${from}, the server answered ${response.status} ${contentRange ?? 'without Content-Range'}`,
        data: { status: response.status },
      });
    }
  }
  await writeBody({ body: response.body, handle, segment, stager: args.stager, onWritten: args.onWritten, what: params.what, url: response.url });
}

/** Where received bytes are staged before the write: the hashing ring, or two plain buffers. */
interface Stager {
  acquire(): Promise<RingSlot>;
  submit(slot: RingSlot, length: number, written: Promise<unknown>): void;
  giveBack(slot: RingSlot): void;
}

function plainStager(): Stager {
  const slots: RingSlot[] = [0, 1].map((index) => ({ index, buffer: Buffer.allocUnsafe(WRITE_BUFFER) }));
  const free = [...slots];
  const waiting: Array<(slot: RingSlot) => void> = [];
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
    submit: (slot, _length, written) => {
      written.then(
        () => giveBack(slot),
        () => giveBack(slot),
      );
    },
    giveBack,
  };
}

async function writeBody(args: {
  body: AsyncIterable<Buffer> & { destroy(err?: Error): unknown };
  handle: FileHandle;
  segment: Segment;
  stager: Stager;
  onWritten: (bytes: number) => void;
  what: string;
  url: string;
}): Promise<void> {
  const { segment, handle, stager } = args;
  // Writes run one after another, in file order, so `segment.done` only ever counts bytes that
  // are on disk with nothing missing before them (the resume state depends on it). Receiving
  // goes on meanwhile into the other staging slots.
  let writes: Promise<void> = Promise.resolve();
  let slot: RingSlot | undefined;
  let filled = 0;
  let position = segment.start + segment.done;
  const flush = (): void => {
    if (!slot || filled === 0) return;
    const { buffer } = slot;
    const length = filled;
    const at = position;
    position += length;
    writes = writes.then(async () => {
      let written = 0;
      while (written < length) {
        const { bytesWritten } = await handle.write(buffer, written, length - written, at + written);
        written += bytesWritten;
      }
      segment.done += length;
      args.onWritten(length);
    });
    stager.submit(slot, length, writes);
    slot = undefined;
    filled = 0;
  };
  try {
    for await (const chunk of args.body) {
      if (position + filled + chunk.length > segment.end) {
        throw new HubcacheError({ code: 'E_INTEGRITY', message: `Cannot ${args.what}: the server sent more bytes than announced` });
      }
      let offset = 0;
      while (offset < chunk.length) {
        slot ??= await stager.acquire();
        const n = Math.min(chunk.length - offset, WRITE_BUFFER - filled);
        chunk.copy(slot.buffer, filled, offset, offset + n);
        filled += n;
        offset += n;
        if (filled === WRITE_BUFFER) flush();
      }
    }
    flush();
    await writes;
  } catch (err) {
    // Keep whatever reached us: it is written, counted in segment.done, and not fetched again.
    flush();
    await writes.catch(() => undefined);
    if (slot) stager.giveBack(slot);
    args.body.destroy();
    throw networkError({ err, url: args.url, what: args.what });
  }
  if (segment.start + segment.done < segment.end) {
    // The body ended early without a socket error (a short body): retry from here.
    throw new HubcacheError({
      code: 'E_NETWORK',
      message: `Cannot ${args.what}: the connection ended ${segment.end - segment.start - segment.done} bytes early`,
      data: { retryable: true },
    });
  }
}
