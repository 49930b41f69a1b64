/**
 * Retries transient failures (connection resets, stalls, 429/5xx) with
 * exponential backoff, honouring Retry-After. Anything else fails at once:
 * a 404 will not turn into a 200 by asking again.
 */
import { HubcacheError } from '../errors.js';
import { sleep } from '../sleep.js';

export interface RetryInfo {
  attempt: number;
  delayMs: number;
  error: HubcacheError;
}

export interface WithRetriesParams<T> {
  fn: (attempt: number) => Promise<T>;
  retries?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  signal?: AbortSignal | undefined;
  onRetry?: (info: RetryInfo) => void;
}

export function isRetryable(err: unknown): err is HubcacheError {
  if (!(err instanceof HubcacheError)) return false;
  if (err.code !== 'E_NETWORK') return false;
  return err.data.retryable !== false;
}

export async function withRetries<T>(params: WithRetriesParams<T>): Promise<T> {
  const retries = params.retries ?? 5;
  const base = params.baseDelayMs ?? 500;
  const max = params.maxDelayMs ?? 8_000;
  for (let attempt = 0; ; attempt++) {
    try {
      return await params.fn(attempt);
    } catch (err) {
      if (!isRetryable(err) || attempt >= retries || params.signal?.aborted) throw err;
      const retryAfter = typeof err.data.retryAfterMs === 'number' ? err.data.retryAfterMs : undefined;
      const delayMs = Math.min(max, retryAfter ?? base * 2 ** attempt);
      params.onRetry?.({ attempt: attempt + 1, delayMs, error: err });
      await sleep({ ms: delayMs, signal: params.signal });
    }
  }
}

/** Parses Retry-After (seconds or HTTP date) into milliseconds, capped at a minute. */
export function parseRetryAfter(params: { value: string | undefined }): number | undefined {
  if (!params.value) return undefined;
  const seconds = Number(params.value);
  if (Number.isFinite(seconds)) return Math.min(60_000, Math.max(0, seconds * 1000));
  const date = Date.parse(params.value);
  return Number.isNaN(date) ? undefined : Math.min(60_000, Math.max(0, date - Date.now()));
}
