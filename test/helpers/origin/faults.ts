/**
 * Scripted misbehaviour: each fault hits the next `times` matching requests,
 * then the origin is well-behaved again. Faults are checked in the order they
 * were added; one request gets at most one status fault, one body fault, and
 * may also have its Range ignored (so "200 to a Range, then a dropped link" can
 * be scripted as two faults).
 */
import type { RouteKind } from './stats.js';

export interface FaultMatch {
  /** Repo file path. CDN requests match the path whose resolve redirected there. */
  path?: string;
  /** Either name of a blob: sha256 or git-sha1 (quotes and `W/` tolerated). */
  etag?: string;
  repoId?: string;
  route?: RouteKind | RouteKind[];
  method?: string;
}

/**
 * Body faults apply where blob bytes are sent (GET of a regular file's
 * resolve URL, GET on the CDN); `afterBytes` counts body bytes of this
 * response and defaults to half of it.
 */
export type FaultSpec =
  /** Send `afterBytes`, then abort the TCP connection (RST). */
  | { kind: 'reset'; afterBytes?: number }
  /** Send `afterBytes`, then close the connection cleanly (FIN): a body shorter than Content-Length. */
  | { kind: 'truncate'; afterBytes?: number }
  /** Same length, but the byte at body offset `afterBytes` is inverted. */
  | { kind: 'corrupt'; afterBytes?: number }
  /** Send `afterBytes`, then nothing for `ms` (default: until the client or origin gives up), then the rest. */
  | { kind: 'stall'; afterBytes?: number; ms?: number }
  /** The whole body at about `bytesPerSecond`. */
  | { kind: 'trickle'; bytesPerSecond: number }
  /** Answer the request itself with this status (500, 503, 429...), before anything else. */
  | { kind: 'status'; status: number; retryAfter?: number; message?: string }
  /** Answer a Range request with 200 and the whole body, as some proxies and CDNs do. */
  | { kind: 'ignoreRange' };

export type Fault = FaultSpec & {
  match?: FaultMatch;
  /** How many matching requests to affect (default 1; `Infinity` for all). */
  times?: number;
};

/** Faults that shape the bytes of a body (everything but a status or an ignored Range). */
export type BodyFault = Exclude<FaultSpec, { kind: 'status' } | { kind: 'ignoreRange' }>;

export interface FaultHandle {
  readonly fault: Fault;
  /** Requests affected so far. */
  readonly hits: number;
  readonly remaining: number;
  remove(): void;
}

/** What the origin knows about a request when it looks for a fault. */
export interface FaultTarget {
  route: RouteKind;
  method: string;
  repoId?: string;
  path?: string;
  etags: string[];
}

interface Entry {
  fault: Fault;
  hits: number;
  remaining: number;
}

export class FaultRegistry {
  private entries: Entry[] = [];

  add(fault: Fault): FaultHandle {
    const times = fault.times ?? 1;
    if (!(times > 0)) throw new Error(`fault.times must be > 0, got ${times}`);
    if (fault.kind === 'trickle' && !(fault.bytesPerSecond > 0)) throw new Error('trickle needs bytesPerSecond > 0');
    const entry: Entry = { fault, hits: 0, remaining: times };
    this.entries.push(entry);
    return {
      fault,
      get hits() {
        return entry.hits;
      },
      get remaining() {
        return entry.remaining;
      },
      remove: () => {
        entry.remaining = 0;
        this.entries = this.entries.filter((e) => e !== entry);
      },
    };
  }

  clear(): void {
    for (const entry of this.entries) entry.remaining = 0;
    this.entries = [];
  }

  /** Faults still armed. */
  get active(): Fault[] {
    return this.entries.map((e) => e.fault);
  }

  /** @internal Consumes one use of the first matching status fault. */
  takeStatus(target: FaultTarget): Extract<FaultSpec, { kind: 'status' }> | undefined {
    const fault = this.take(target, (f) => f.kind === 'status');
    return fault?.kind === 'status' ? fault : undefined;
  }

  /** @internal Consumes one use of the first matching body fault. */
  takeBody(target: FaultTarget): BodyFault | undefined {
    const fault = this.take(target, (f) => f.kind !== 'status' && f.kind !== 'ignoreRange');
    return fault === undefined || fault.kind === 'status' || fault.kind === 'ignoreRange' ? undefined : fault;
  }

  /** @internal Consumes one use of the first matching ignoreRange fault; true when there was one. */
  takeIgnoreRange(target: FaultTarget): boolean {
    return this.take(target, (f) => f.kind === 'ignoreRange') !== undefined;
  }

  private take(target: FaultTarget, wanted: (fault: Fault) => boolean): Fault | undefined {
    const entry = this.entries.find((e) => wanted(e.fault) && matches(e.fault.match, target));
    if (entry === undefined) return undefined;
    entry.hits += 1;
    entry.remaining -= 1;
    if (entry.remaining <= 0) this.entries = this.entries.filter((e) => e !== entry);
    return entry.fault;
  }
}

function matches(match: FaultMatch | undefined, target: FaultTarget): boolean {
  if (match === undefined) return true;
  if (match.path !== undefined && match.path !== target.path) return false;
  if (match.repoId !== undefined && match.repoId !== target.repoId) return false;
  if (match.method !== undefined && match.method.toUpperCase() !== target.method) return false;
  if (match.route !== undefined) {
    const routes = Array.isArray(match.route) ? match.route : [match.route];
    if (!routes.includes(target.route)) return false;
  }
  if (match.etag !== undefined) {
    const wanted = match.etag.replace(/^W\//, '').replace(/"/g, '');
    if (!target.etags.includes(wanted)) return false;
  }
  return true;
}
