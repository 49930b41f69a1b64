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
import { open, type FileHandle } from 'node:fs/promises';
import type { StreamingHasher } from '../cache/hashFile.js';
import { dirname } from 'node:path';
import { HubcacheError, fromSystemError } from '../errors.js';
import type { HashAlgorithm } from '../cache/etag.js';
import { createHashFollower, type HashFollower } from './hashFollower.js';
import { createRingWriter, type RingWriter } from '../cache/ringWriter.js';
import { createPartialState, type PartialState, type Segment } from './partialState.js';
import { checkFreeSpace } from './checkFreeSpace.js';
import { inlineHash } from './inlineHash.js';
import { THREADED_MIN_BYTES } from './openBody.js';
import { plainStager } from './plainStager.js';
import { contiguousPrefix, planSegments } from './planSegments.js';
import { RestartFromZero, runSegment } from './runSegment.js';
import { DEFAULT_RETRIES } from '../hub/retryPolicy.js';

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
   * Who reads the body. `auto` (default): the raw socket reader (http and https) for files of at
   * least THREADED_MIN_BYTES, node:http/https otherwise (small files gain more from their
   * kept-alive connections). `raw` / `node`: that one whenever it can (tests use both).
   */
  engine?: 'auto' | 'raw' | 'node';
}

export interface TransferBlobResult {
  digest: string | undefined;
  /** Body bytes received over the network in this call. */
  received: number;
  resumedFrom: number;
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
  let restarts = 0;
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
      const watermark = (): number => contiguousPrefix(segments);
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
              source: params,
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
          // The file behind the URL changed under us: start over with one stream. Counted against the
          // same budget as any failure, so a server whose ETag changes on every answer cannot loop us.
          restarts += 1;
          if (restarts > (params.retries ?? DEFAULT_RETRIES)) {
            throw new HubcacheError({
              code: 'E_HTTP',
              message: `Cannot ${params.what}: the file changed on the server ${restarts} times while it was being downloaded`,
              hint: 'The server sends a different ETag on each request; a mirror or proxy in between may be misconfigured.',
            });
          }
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
