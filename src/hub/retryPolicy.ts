/**
 * The one retry policy, shared by metadata calls (withRetries) and blob
 * transfers (download/runSegment): what is worth retrying (a property of the
 * error's kind, decided in errors.ts), how long to wait (exponential backoff,
 * or the server's Retry-After, honoured up to a minute), and the budget.
 * Each loop counts failures by its own rule (a transfer forgives a failure
 * that came after real progress) and asks this module what to do next.
 */
import { HubcacheError } from '../errors.js';
import { sleep } from '../sleep.js';

/** Failures in a row a caller gets when it does not say (`--retries`). */
export const DEFAULT_RETRIES = 5;
/** The first backoff; it doubles with each failure in a row, up to BACKOFF_MAX_MS. */
export const BACKOFF_BASE_MS = 500;
export const BACKOFF_MAX_MS = 8_000;
/** A Retry-After is honoured up to this; a server asking for longer gets a minute. */
export const RETRY_AFTER_MAX_MS = 60_000;

export interface RetryDecisionParams {
  err: unknown;
  /** Failures in a row so far, this one included (1 for the first). */
  failures: number;
  /** Retries allowed after failures in a row (`failures > retries` gives up). */
  retries: number;
  /**
   * The caller holds a usable cached answer: a host out of reach (refused, no route, silent)
   * is not waited for, so the cached copy is used at once.
   */
  hasFallback?: boolean | undefined;
}

/** How long to wait before the next try, or undefined to give up and throw `err`. */
export function retryDelayMs(params: RetryDecisionParams): number | undefined {
  const { err } = params;
  if (!(err instanceof HubcacheError) || !err.retryable) return undefined;
  if (params.hasFallback && err.unreachable) return undefined;
  if (params.failures > params.retries) return undefined;
  const retryAfter = err.data.retryAfterMs;
  if (typeof retryAfter === 'number') return Math.min(RETRY_AFTER_MAX_MS, retryAfter);
  return Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (params.failures - 1));
}

/** The wait itself: cut short by the signal (Ctrl-C does not sit through a minute of Retry-After). */
export function waitToRetry(params: { ms: number; signal?: AbortSignal | undefined }): Promise<void> {
  return sleep(params);
}

/** Parses Retry-After (seconds or HTTP date) into milliseconds, capped at RETRY_AFTER_MAX_MS. */
export function parseRetryAfter(params: { value: string | undefined }): number | undefined {
  if (!params.value) return undefined;
  const seconds = Number(params.value);
  if (Number.isFinite(seconds)) return Math.min(RETRY_AFTER_MAX_MS, Math.max(0, seconds * 1000));
  const date = Date.parse(params.value);
  return Number.isNaN(date) ? undefined : Math.min(RETRY_AFTER_MAX_MS, Math.max(0, date - Date.now()));
}
