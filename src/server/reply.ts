/**
 * What the app answers, as data: a status, headers and a body description. The app never
 * touches a socket (tests call it directly); `writeReply` turns a Reply into bytes on one.
 */
import type { Readable } from 'node:stream';
import type { BlobReader } from '../store/blobStore.js';

export type ReplyBody =
  | { kind: 'empty' }
  | { kind: 'bytes'; data: Buffer }
  /** Bytes `start..end` (end exclusive) of a blob, committed or still filling. */
  | { kind: 'blob'; reader: BlobReader; start: number; end: number }
  /** Bytes for another replica (a fill's part): not counted as served to clients. */
  | { kind: 'stream'; stream: Readable };

export interface Reply {
  status: number;
  headers: Record<string, string>;
  body: ReplyBody;
}

export interface AppRequest {
  method: string;
  /** Path and query exactly as sent (not decoded). */
  rawUrl: string;
  /** Lower-case names. */
  headers: Record<string, string | undefined>;
  /** Reads the request body, at most `limit` bytes (throws BodyTooLarge past it). */
  readBody(limit: number): Promise<Buffer>;
  /** Aborted when the client goes away. */
  signal: AbortSignal;
  /**
   * Runs server-side work (a dashboard plan walking a big cache) with the connection's idle
   * timeout paused: the client is waiting on the server, not silent. Absent in-process (no socket).
   */
  whileServerWorks?<T>(work: () => Promise<T>): Promise<T>;
  remoteAddress?: string | undefined;
}

export class BodyTooLarge extends Error {}

export function jsonReply(params: { status?: number; value: unknown; headers?: Record<string, string> }): Reply {
  const data = Buffer.from(JSON.stringify(params.value));
  return {
    status: params.status ?? 200,
    headers: { ...params.headers, 'content-type': 'application/json; charset=utf-8', 'content-length': String(data.byteLength) },
    body: { kind: 'bytes', data },
  };
}

export function textReply(params: { status?: number; text: string; contentType?: string }): Reply {
  const data = Buffer.from(params.text);
  return {
    status: params.status ?? 200,
    headers: { 'content-type': params.contentType ?? 'text/plain; charset=utf-8', 'content-length': String(data.byteLength) },
    body: { kind: 'bytes', data },
  };
}

/**
 * An error the way the Hub sends it: `X-Error-Code` (when there is one), `X-Error-Message` and a
 * JSON `{"error": ...}` body, which is what huggingface_hub and @huggingface/hub read.
 */
export function hubErrorReply(params: { status: number; message: string; code?: string | undefined; headers?: Record<string, string> }): Reply {
  const message = params.message.replace(/[\r\n]+/g, ' ').slice(0, 500);
  return jsonReply({
    status: params.status,
    value: { error: message },
    headers: {
      ...params.headers,
      ...(params.code ? { 'x-error-code': params.code } : {}),
      'x-error-message': message.replace(/[^\x20-\x7e]/g, '?'),
    },
  });
}
