/**
 * Single-range `Range` / `If-Range` handling as S3/CloudFront do it, which is
 * what resume logic in clients is written against.
 */

export type RangeDecision =
  | { kind: 'full' }
  | { kind: 'partial'; start: number; end: number }
  | { kind: 'unsatisfiable' };

/**
 * Syntax we do not understand, and multi-range requests, are ignored (200 with
 * the whole body), which RFC 9110 allows; a well-formed range that starts past
 * the end is 416.
 */
export function decideRange(params: { range: string | undefined; size: number }): RangeDecision {
  const { range, size } = params;
  if (range === undefined) return { kind: 'full' };
  const match = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(range);
  if (match === null) return { kind: 'full' };
  const [, first = '', last = ''] = match;
  if (first === '' && last === '') return { kind: 'full' };
  if (first === '') {
    // Suffix range: the last N bytes.
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  if (last !== '' && Number(last) < start) return { kind: 'full' };
  if (start >= size) return { kind: 'unsatisfiable' };
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  return { kind: 'partial', start, end };
}

/**
 * `If-Range` says "only give me the range if the resource is still this
 * version": an entity tag must match strongly, a date must equal Last-Modified.
 * Otherwise the client gets the whole new body (200), never a mixed file.
 */
export function ifRangeAllowsPartial(params: { ifRange: string | undefined; etag: string; lastModified: string }): boolean {
  const { ifRange } = params;
  if (ifRange === undefined) return true;
  const value = ifRange.trim();
  if (value.startsWith('W/')) return false;
  if (value.startsWith('"')) return value === params.etag;
  const date = Date.parse(value);
  return !Number.isNaN(date) && date === Date.parse(params.lastModified);
}
