/**
 * How a file is cut into ranged streams: at most one per 64 MiB, since a
 * stream costs a connection and a hash that must wait for the prefix.
 */
import type { Segment } from './partialState.js';

/** Ranged streams are worth their overhead only for big files. */
export const MIN_BYTES_PER_CONNECTION = 64 * 1024 * 1024;

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

/** Bytes [0, result) are on disk with nothing missing: what a hash can follow. */
export function contiguousPrefix(segments: readonly Segment[]): number {
  let upTo = 0;
  for (const s of segments) {
    upTo = s.start + s.done;
    if (s.start + s.done < s.end) break;
  }
  return upTo;
}
