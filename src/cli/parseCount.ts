/** A whole-number option within bounds, or E_USAGE naming the option and the range. */
import { HubcacheError } from '../errors.js';

export function parseCount(params: { text: string; name: string; min: number; max: number }): number {
  const n = Number(params.text);
  if (!/^\d+$/.test(params.text.trim()) || !Number.isSafeInteger(n) || n < params.min || n > params.max) {
    throw new HubcacheError({
      code: 'E_USAGE',
      message: `${params.name} must be a whole number from ${params.min} to ${params.max}, got "${params.text.slice(0, 40)}"`,
    });
  }
  return n;
}
