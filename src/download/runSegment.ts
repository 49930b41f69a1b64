/**
 * One stream's job: fill a segment of the partial file, one GET after
 * another, each resuming where the last one stopped, until it is full or the
 * retry budget is spent.
 */
import { HubcacheError } from '../errors.js';
import { headerValue } from '../hub/hubRequest.js';
import { hubErrorFromResponse } from '../hub/hubErrorFromResponse.js';
import { DEFAULT_RETRIES, retryDelayMs, waitToRetry } from '../hub/retryPolicy.js';
import { openBody, type BodySource } from './openBody.js';
import type { Segment } from './partialState.js';
import type { Stager } from './plainStager.js';
import { SlotWriter } from './slotWriter.js';

/** An attempt that received less than this before failing counts as a failure in a row. */
const MIN_PROGRESS_BYTES = 1024 * 1024;

/** The bytes behind the URL changed since we started (a new ETag): what is on disk is worth nothing. */
export class RestartFromZero extends Error {}

export interface SegmentJob {
  source: BodySource & {
    retries?: number | undefined;
    onRetry?: ((info: { attempt: number; delayMs: number; message: string }) => void) | undefined;
  };
  segment: Segment;
  ranged: boolean;
  signal: AbortSignal;
  getSourceEtag: () => string | undefined;
  onSourceEtag: (etag: string) => void;
  onWritten: (bytes: number) => void;
  stager: Stager;
}

export async function runSegment(args: SegmentJob): Promise<void> {
  const { source, segment, signal } = args;
  const retries = source.retries ?? DEFAULT_RETRIES;
  // The retry budget counts failures in a row without progress: a long download on a flaky
  // link keeps going as long as each attempt moves it forward, and backs off only when stuck.
  let failuresInARow = 0;
  while (segment.start + segment.done < segment.end) {
    const before = segment.done;
    try {
      await streamOnce({ ...args, ranged: args.ranged || segment.done > 0 });
    } catch (err) {
      // A connection that dies after a few bytes every time is stuck, not progressing.
      failuresInARow = segment.done - before >= MIN_PROGRESS_BYTES ? 1 : failuresInARow + 1;
      const delayMs = signal.aborted ? undefined : retryDelayMs({ err, failures: failuresInARow, retries });
      if (delayMs === undefined) throw err;
      source.onRetry?.({ attempt: failuresInARow, delayMs, message: (err as Error).message });
      await waitToRetry({ ms: delayMs, signal });
    }
  }
}

async function streamOnce(args: SegmentJob): Promise<void> {
  const { source, segment } = args;
  const from = segment.start + segment.done;
  const headers: Record<string, string> = { 'accept-encoding': 'identity' };
  if (args.ranged) {
    headers.range = `bytes=${from}-${segment.end - 1}`;
    const sourceEtag = args.getSourceEtag();
    // If the bytes behind the URL changed since we started, the server answers 200 with the new whole file.
    if (sourceEtag) headers['if-range'] = sourceEtag;
  }
  const response = await openBody({ source, headers, signal: args.signal });
  if (response.status >= 400) {
    await response.discard();
    if (response.status === 416) {
      throw new HubcacheError({ code: 'E_HTTP', message: `Cannot ${source.what}: the server refused the byte range ${headers.range}`, data: { status: 416 } });
    }
    throw hubErrorFromResponse({ status: response.status, url: response.url, headers: response.headers, what: source.what, hasToken: Boolean(source.token) });
  }
  const etag = headerValue(response.headers, 'etag');
  const knownEtag = args.getSourceEtag();
  if (etag) args.onSourceEtag(etag);
  // The body's first byte is this far into the file: `from` for a 206, 0 for a whole-file 200.
  let bodyStart = from;
  if (args.ranged) {
    if (response.status === 200) {
      if (etag && knownEtag && etag !== knownEtag) {
        // If-Range did its job: the file behind the URL changed, so the bytes on disk are stale.
        await response.discard();
        throw new RestartFromZero();
      }
      // The server (or a proxy) ignored our Range and sends the whole file. Restarting would
      // throw away what is on disk, and on a link that keeps dropping, restart without end:
      // skip the bytes we have and keep the rest. The hash at the end still checks it all.
      bodyStart = 0;
    } else {
      const contentRange = headerValue(response.headers, 'content-range');
      const match = contentRange ? /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(contentRange) : null;
      if (response.status !== 206 || !match || Number(match[1]) !== from) {
        await response.discard();
        throw new HubcacheError({
          code: 'E_HTTP',
          message: `Cannot ${source.what}: asked for bytes from ${from}, the server answered ${response.status} ${contentRange ?? 'without Content-Range'}`,
          data: { status: response.status },
        });
      }
    }
  } else if (response.status !== 200) {
    await response.discard();
    throw new HubcacheError({ code: 'E_HTTP', message: `Cannot ${source.what}: the server answered ${response.status} to a download`, data: { status: response.status } });
  }
  const writer = new SlotWriter({ segment, bodyStart, bodyEnd: response.status === 200 ? source.size : segment.end, stager: args.stager, onWritten: args.onWritten, what: source.what });
  await response.writeTo(writer);
}
