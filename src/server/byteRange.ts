/**
 * `Range: bytes=...` for one blob. One range only (what every Hub client sends: `bytes=N-`,
 * `bytes=a-b`, `bytes=0-0`, suffix `bytes=-N`); several ranges are answered whole, as RFC 9110
 * allows. A range that starts past the end is 416.
 */
export type RangeAnswer = { kind: 'whole' } | { kind: 'partial'; start: number; end: number } | { kind: 'unsatisfiable' };

export function parseByteRange(params: { header: string | undefined; size: number }): RangeAnswer {
  const { header, size } = params;
  if (header === undefined) return { kind: 'whole' };
  const match = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (match === null) return { kind: 'whole' };
  const [, first = '', last = ''] = match;
  if (first === '' && last === '') return { kind: 'whole' };
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0) return { kind: 'unsatisfiable' };
    return size === 0 ? { kind: 'unsatisfiable' } : { kind: 'partial', start: Math.max(0, size - suffix), end: size };
  }
  const start = Number(first);
  if (!Number.isSafeInteger(start) || start >= size) return { kind: 'unsatisfiable' };
  let end = size;
  if (last !== '') {
    const lastByte = Number(last);
    if (lastByte < start) return { kind: 'whole' };
    // A last byte past the end (however many digits) means "to the end" (RFC 9110 14.1.2).
    end = Number.isSafeInteger(lastByte) ? Math.min(size, lastByte + 1) : size;
  }
  return { kind: 'partial', start, end };
}
