/**
 * Progress of a partial download, kept beside it in hubcache's own folder
 * (`.hubcache/partials/<repo-folder>/<partial>.state`, never in a repo
 * folder) so a download killed with -9 resumes where its bytes end.
 *
 * Layout: a 4 KiB JSON header, then one fixed 24-byte record per segment
 * holding its completed byte count. A record is rewritten in place with one
 * small pwrite *after* the data it counts was written, so after a crash the
 * record is never ahead of the data (at worst a little behind: refetched).
 */
import { closeSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { dirname } from 'node:path';

const HEADER_BYTES = 4096;
const RECORD_BYTES = 24;

export interface Segment {
  start: number;
  /** Exclusive. */
  end: number;
  /** Bytes from `start` that are on disk. */
  done: number;
}

export interface PartialHeader {
  version: 1;
  etag: string;
  size: number;
  /** ETag of the byte source (CDN), for If-Range on resume. */
  sourceEtag?: string | undefined;
  segments: Array<{ start: number; end: number }>;
}

export interface PartialState {
  readonly statePath: string;
  setDone(index: number, done: number): void;
  setSourceEtag(etag: string): void;
  close(): void;
  remove(): Promise<void>;
}

function encodeHeader(header: PartialHeader): Buffer {
  const json = JSON.stringify(header);
  if (json.length >= HEADER_BYTES) throw new Error('partial state header too large');
  return Buffer.from(json.padEnd(HEADER_BYTES - 1, ' ') + '\n');
}

function encodeRecord(done: number): Buffer {
  return Buffer.from(`${String(done).padStart(20, '0')}\n   `);
}

export function createPartialState(params: { statePath: string; header: PartialHeader; done: number[] }): PartialState {
  mkdirSync(dirname(params.statePath), { recursive: true });
  const fd = openSync(params.statePath, 'w');
  let header = params.header;
  writeSync(fd, encodeHeader(header), 0, HEADER_BYTES, 0);
  params.done.forEach((done, i) => writeSync(fd, encodeRecord(done), 0, RECORD_BYTES, HEADER_BYTES + i * RECORD_BYTES));
  let open = true;
  return {
    statePath: params.statePath,
    setDone(index, done) {
      if (open) writeSync(fd, encodeRecord(done), 0, RECORD_BYTES, HEADER_BYTES + index * RECORD_BYTES);
    },
    setSourceEtag(etag) {
      if (!open || header.sourceEtag === etag) return;
      header = { ...header, sourceEtag: etag };
      writeSync(fd, encodeHeader(header), 0, HEADER_BYTES, 0);
    },
    close() {
      if (open) closeSync(fd);
      open = false;
    },
    async remove() {
      if (open) closeSync(fd);
      open = false;
      await unlink(params.statePath).catch(() => undefined);
    },
  };
}

/** Reads a state file; undefined when missing, torn or not ours. */
export function readPartialState(params: { statePath: string }): { header: PartialHeader; segments: Segment[] } | undefined {
  let raw: Buffer;
  try {
    raw = readFileSync(params.statePath);
  } catch {
    return undefined;
  }
  try {
    const header = JSON.parse(raw.subarray(0, HEADER_BYTES).toString('utf8')) as PartialHeader;
    if (header.version !== 1 || !Array.isArray(header.segments)) return undefined;
    const segments = header.segments.map((s, i) => {
      const text = raw.subarray(HEADER_BYTES + i * RECORD_BYTES, HEADER_BYTES + i * RECORD_BYTES + 20).toString('utf8');
      const done = Number(text);
      if (!/^\d{20}$/.test(text) || !Number.isSafeInteger(done) || done < 0 || done > s.end - s.start) throw new Error('bad record');
      return { start: s.start, end: s.end, done };
    });
    return { header, segments };
  } catch {
    return undefined;
  }
}
