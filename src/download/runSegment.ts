/**
 * One stream's job: fill a segment of the partial file, one GET after
 * another, each resuming where the last one stopped, until it is full or the
 * retry budget is spent.
 */
import { HubcacheError } from '../errors.js';
import { sleep } from '../sleep.js';
import { headerValue } from '../hub/hubRequest.js';
import { hubErrorFromResponse } from '../hub/hubErrorFromResponse.js';
import { isRetryable, parseRetryAfter } from '../hub/withRetries.js';
import { openBody, type BodySource } from './openBody.js';
import type { Segment } from './partialState.js';
import type { Stager } from './plainStager.js';
import { SlotWriter } from './slotWriter.js';

/** An attempt that received less than this before failing counts as a failure in a row. */
const MIN_PROGRESS_BYTES = 1024 * 1024;

/** The server ignored our Range (or the bytes behind the URL changed): start over with one stream. */
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
  const retries = source.retries ?? 5;
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
      source.onRetry?.({ attempt: failuresInARow, delayMs, message: err.message });
      await sleep({ ms: delayMs, signal });
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
    const err = hubErrorFromResponse({ status: response.status, url: response.url, headers: response.headers, what: source.what, hasToken: Boolean(source.token) });
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
        message: `Cannot ${source.what}: asked for bytes from ${from}, the server answered ${response.status} ${contentRange ?? 'without Content-Range'}`,
        data: { status: response.status },
      });
    }
  } else if (response.status !== 200) {
    await response.discard();
    throw new HubcacheError({ code: 'E_HTTP', message: `Cannot ${source.what}: the server answered ${response.status} to a download`, data: { status: response.status } });
  }
  const writer = new SlotWriter({ segment, stager: args.stager, onWritten: args.onWritten, what: source.what });
  await response.writeTo(writer);
}
