/**
 * The engine choice for one GET of blob bytes: the raw socket reader for
 * bodies of big files over http and https (the kernel, or Node's TLS layer,
 * reads into the slots), node:http/https for the rest (small files, chunked
 * bodies the raw reader hands back).
 */
import { hubRequest } from '../hub/hubRequest.js';
import { rawHttpGet } from '../hub/rawHttpGet.js';
import type { SlotWriter } from './slotWriter.js';

/**
 * From this size up, one stream is written and hashed by the ring's two threads. Below it, the main
 * thread hashes and writes: starting two threads costs more than hashing the whole file (a repo of
 * many small files would start two per file).
 */
export const THREADED_MIN_BYTES = 16 * 1024 * 1024;

/** Where a blob's bytes come from: the part of transferBlob's params a single GET needs. */
export interface BodySource {
  url: string;
  /** Sent only while the URL stays on the origin it was given for (never to a CDN on another host). */
  token?: string | undefined;
  size: number;
  /** Silence on a stream longer than this counts as a stall (then retried). */
  stallTimeoutMs?: number | undefined;
  engine?: 'auto' | 'raw' | 'node' | undefined;
  what: string;
}

/** A response whose body is about to be written: from the raw socket reader or from node:http. */
export interface OpenedBody {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  url: string;
  discard(): Promise<void>;
  writeTo(writer: SlotWriter): Promise<void>;
}

export async function openBody(params: { source: BodySource; headers: Record<string, string>; signal: AbortSignal }): Promise<OpenedBody> {
  const { source, headers, signal } = params;
  const bodyTimeoutMs = source.stallTimeoutMs ?? 30_000;
  let url = source.url;
  let token = source.token;
  const engine = source.engine ?? 'auto';
  const raw = engine === 'raw' || (engine === 'auto' && source.size >= THREADED_MIN_BYTES);
  if (raw && ['http:', 'https:'].includes(new URL(url).protocol)) {
    const raw = await rawHttpGet({ url, token, headers, signal, bodyTimeoutMs, what: source.what });
    const response = raw.response;
    if (response && (response.contentLength !== undefined || response.status >= 300)) {
      return {
        status: response.status,
        headers: response.headers,
        url: response.url,
        discard: async () => response.close(),
        writeTo: (writer) => writer.receiveRaw({ response, url: response.url }),
      };
    }
    // Not for the raw reader (a hop to another scheme, a chunked body): node:http takes it from here.
    // Such a hop leaves the origin, so the token stays behind, as it would on any other-host redirect.
    response?.close();
    if (raw.handOff !== undefined) {
      url = raw.handOff;
      token = undefined;
    }
  }
  const response = await hubRequest({ method: 'GET', url, token, headers, redirects: 'all', signal, bodyTimeoutMs, what: source.what });
  return {
    status: response.status,
    headers: response.headers,
    url: response.url,
    discard: () => response.body.dump().catch(() => undefined),
    writeTo: (writer) => writer.receiveStream({ body: response.body, url: response.url }),
  };
}
