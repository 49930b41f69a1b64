/**
 * Runs a metadata call again after transient failures, by the one retry
 * policy (retryPolicy): backoff or Retry-After, and only for error kinds a
 * retry can cure. A 404 will not turn into a 200 by asking again.
 */
import type { HubcacheError } from '../errors.js';
import { DEFAULT_RETRIES, retryDelayMs, waitToRetry } from './retryPolicy.js';

export interface RetryInfo {
  attempt: number;
  delayMs: number;
  error: HubcacheError;
}

export interface WithRetriesParams<T> {
  fn: (attempt: number) => Promise<T>;
  retries?: number;
  signal?: AbortSignal | undefined;
  /** The caller has a cached answer: an unreachable host is not waited for (see retryPolicy). */
  hasFallback?: boolean | undefined;
  onRetry?: (info: RetryInfo) => void;
}

export async function withRetries<T>(params: WithRetriesParams<T>): Promise<T> {
  const retries = params.retries ?? DEFAULT_RETRIES;
  for (let attempt = 0; ; attempt++) {
    try {
      return await params.fn(attempt);
    } catch (err) {
      const delayMs = params.signal?.aborted ? undefined : retryDelayMs({ err, failures: attempt + 1, retries, hasFallback: params.hasFallback });
      if (delayMs === undefined) throw err;
      params.onRetry?.({ attempt: attempt + 1, delayMs, error: err as HubcacheError });
      await waitToRetry({ ms: delayMs, signal: params.signal });
    }
  }
}
