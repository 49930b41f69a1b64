/**
 * What the origin was asked and what it sent, so tests can assert "no network
 * on the second run", "resumed instead of restarting", "used N workers".
 */

/** `head`/`getResolve`: the repo's resolve (or raw) URL; `cdn`: LFS bytes; `api`: /api/*. */
export type RouteKind = 'head' | 'getResolve' | 'cdn' | 'api' | 'unknown';

export interface RequestLogEntry {
  /** When the request arrived (Date.now()): lets tests check waits such as Retry-After from the origin's side. */
  at: number;
  method: string;
  url: string;
  route: RouteKind;
  status: number;
  range?: string;
  /** Whether the client sent an Authorization header (clients must drop it when redirected to another host). */
  authorization: boolean;
}

const LOG_LIMIT = 10_000;

export class OriginStats {
  requests: Record<RouteKind, number> = emptyCounts();
  /** Body bytes handed to sockets for blob content (resolve + CDN), all blobs together. */
  bodyBytes = 0;
  /**
   * Body bytes per blob, keyed by the name a cache gives it (sha256 for LFS,
   * git-sha1 otherwise). Counted as bytes are written to the socket, so a
   * client that aborts mid-body may be credited up to one read chunk it never got.
   */
  bytesByBlob = new Map<string, number>();
  /** Requests being answered right now, and the most seen at once since `reset()`. */
  inFlight = 0;
  maxInFlight = 0;
  /** The last 10,000 requests, oldest first. */
  log: RequestLogEntry[] = [];

  reset(): void {
    this.requests = emptyCounts();
    this.bodyBytes = 0;
    this.bytesByBlob = new Map();
    this.maxInFlight = this.inFlight;
    this.log = [];
  }

  /** @internal */
  countRequest(route: RouteKind): void {
    this.requests[route] += 1;
  }

  /** @internal */
  countBytes(etag: string, bytes: number): void {
    this.bodyBytes += bytes;
    this.bytesByBlob.set(etag, (this.bytesByBlob.get(etag) ?? 0) + bytes);
  }

  /** @internal */
  record(entry: RequestLogEntry): void {
    this.log.push(entry);
    if (this.log.length > LOG_LIMIT) this.log.splice(0, this.log.length - LOG_LIMIT);
  }
}

function emptyCounts(): Record<RouteKind, number> {
  return { head: 0, getResolve: 0, cdn: 0, api: 0, unknown: 0 };
}
