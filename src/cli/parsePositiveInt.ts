/**
 * The one parser for options that take a count (`--max-workers`, `--connections`,
 * `-j`, `serve`'s port and TTLs): a whole number from 1 (or `min`) to a cap. The cap
 * is part of the contract: each unit costs a thread, a socket or a file handle, and
 * `-j 1000` once took 4.9 GB.
 */
import { HubcacheError } from '../errors.js';
import { quoteInput } from '../quoteInput.js';

export function parsePositiveInt(params: { text: string; name: string; max: number; min?: number }): number {
  const { text, name, max } = params;
  const min = params.min ?? 1;
  // Number('') is 0 and Number('1e1') is 10: only plain digits are a count.
  const n = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new HubcacheError({
      code: 'E_USAGE',
      message: `${name} must be a whole number from ${min} to ${max}, got ${quoteInput(text)}`,
      data: { option: name, min, max },
    });
  }
  return n;
}

/** Hashing threads (`verify -j`, `dedupe -j`): each holds buffers and a V8 isolate; beyond the cores they only queue. */
export const MAX_JOBS = 64;
