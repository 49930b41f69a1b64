/**
 * One error class for everything hubcache reports on purpose. Each error has a
 * stable `code` that scripts can match on, and the code decides the exit code,
 * so the mapping lives in exactly one place.
 */

export const ERROR_CODES = {
  /** Bad command line or bad argument value. */
  E_USAGE: 2,
  /** Repo id not accepted by the Hub's rules. */
  E_INVALID_REPO_ID: 2,
  /** A file path that is absolute, escapes its folder, or is otherwise unusable. */
  E_INVALID_PATH: 2,
  /** A revision name that cannot be a git ref or commit. */
  E_INVALID_REVISION: 2,
  /** A manifest (hubcache.yaml) that does not parse or validate. */
  E_MANIFEST: 2,
  /** Something asked for is not in the cache (and we may not or cannot fetch it). */
  E_NOT_CACHED: 1,
  /** Offline mode and the cache cannot answer. */
  E_OFFLINE: 1,
  /** The Hub says the repo does not exist (or is private and no token works). */
  E_REPO_NOT_FOUND: 1,
  /** The Hub says the revision does not exist. */
  E_REVISION_NOT_FOUND: 1,
  /** The Hub says the file does not exist at that revision. */
  E_ENTRY_NOT_FOUND: 1,
  /** Gated repo: access must be requested on the Hub. */
  E_GATED: 1,
  /** 401/403 for another reason: token missing or wrong. */
  E_AUTH: 1,
  /** Host unreachable, connection reset, timeout, 5xx after retries. */
  E_NETWORK: 1,
  /** Unexpected HTTP status or a response that breaks the protocol. */
  E_HTTP: 1,
  /** Downloaded or cached bytes do not match their size or hash. */
  E_INTEGRITY: 1,
  /** No space left on the device. */
  E_DISK_FULL: 1,
  /** The OS refused access to a path. */
  E_PERMISSION: 1,
  /** Waiting for another process's lock took too long. */
  E_LOCK_TIMEOUT: 1,
  /** The cache has damage that blocks the operation. */
  E_CACHE_DAMAGED: 1,
  /** An operation would touch something outside the cache root. */
  E_OUTSIDE_CACHE: 1,
  /** An archive (backup) is malformed or unsafe. */
  E_ARCHIVE: 1,
  /** The same action is already running (a second sync or plan run from the dashboard). */
  E_BUSY: 1,
  /** A destructive plan was not confirmed. */
  E_ABORTED: 1,
  /** The S3 object store cannot be used (no credentials, no bucket, endpoint unreachable, refused). */
  E_STORE: 1,
  /** A bug: something that should not happen. */
  E_INTERNAL: 1,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/**
 * How a network exchange failed (`data.failure` of an E_NETWORK error), and what that kind
 * means, decided here and nowhere else (as undici's error types do): whether asking again
 * can help, and whether the host is out of reach, in which case a caller holding a cached
 * copy uses it at once instead of waiting through retries.
 */
export const NETWORK_FAILURES = {
  /** DNS has no such host: asking again will not create it. */
  'host-not-found': { retryable: false, unreachable: true },
  /** Nothing listens there (ECONNREFUSED): a restarting server may come back. */
  refused: { retryable: true, unreachable: true },
  /** No route (ENETUNREACH, EHOSTUNREACH, EAI_AGAIN). */
  'no-route': { retryable: true, unreachable: true },
  /** Connected (or trying to) and no answer head within the timeout: a silent host. */
  'no-answer': { retryable: true, unreachable: true },
  /** The connection broke (reset, premature close, garbled answer). */
  reset: { retryable: true, unreachable: false },
  /** A body went silent longer than the stall timeout. */
  stalled: { retryable: true, unreachable: false },
  /** A body ended cleanly but early. */
  'short-body': { retryable: true, unreachable: false },
  /** 429 or 5xx: the server is there but overloaded or failing. */
  'server-busy': { retryable: true, unreachable: false },
} as const satisfies Record<string, { retryable: boolean; unreachable: boolean }>;

export type NetworkFailure = keyof typeof NETWORK_FAILURES;

export interface HubcacheErrorParams {
  code: ErrorCode;
  message: string;
  /** What the user can do about it, one sentence. */
  hint?: string;
  /** Structured facts for `--json` output (never secrets). */
  data?: Record<string, unknown>;
  cause?: unknown;
}

export class HubcacheError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly data: Record<string, unknown>;

  constructor(params: HubcacheErrorParams) {
    super(params.message, params.cause === undefined ? undefined : { cause: params.cause });
    this.name = 'HubcacheError';
    this.code = params.code;
    this.hint = params.hint;
    this.data = params.data ?? {};
  }

  get exitCode(): number {
    return ERROR_CODES[this.code];
  }

  /** What kind of network failure this is (E_NETWORK only). */
  get failure(): NetworkFailure | undefined {
    const failure = this.data.failure;
    return this.code === 'E_NETWORK' && typeof failure === 'string' && failure in NETWORK_FAILURES ? (failure as NetworkFailure) : undefined;
  }

  /** Whether asking again can cure it: a property of the kind (NETWORK_FAILURES), never set at the throw site. */
  get retryable(): boolean {
    const failure = this.failure;
    return failure !== undefined && NETWORK_FAILURES[failure].retryable;
  }

  /** The host is out of reach (refused, no route, no answer): a cached copy should be used at once. */
  get unreachable(): boolean {
    const failure = this.failure;
    return failure !== undefined && NETWORK_FAILURES[failure].unreachable;
  }

  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      message: this.message,
      ...(this.hint ? { hint: this.hint } : {}),
      ...(Object.keys(this.data).length > 0 ? { data: this.data } : {}),
    };
  }
}

export function isHubcacheError(err: unknown, code?: ErrorCode): err is HubcacheError {
  return err instanceof HubcacheError && (code === undefined || err.code === code);
}

/**
 * Turns an OS error into a typed one when we know what it means for the user
 * (full disk, permission); anything else is returned unchanged.
 */
export function fromSystemError(params: { err: unknown; path?: string; action: string }): unknown {
  const { err, path, action } = params;
  const sys = err as NodeJS.ErrnoException | undefined;
  if (!sys || typeof sys.code !== 'string') return err;
  const where = path ?? sys.path ?? '';
  if (sys.code === 'ENOSPC' || sys.code === 'EDQUOT') {
    return new HubcacheError({
      code: 'E_DISK_FULL',
      message: `No space left on the device while trying to ${action}${where ? ` (${where})` : ''}`,
      hint: 'Free disk space (for example `hubcache evict --max-size SIZE` or `hubcache gc`) and run again; nothing partial was committed to the cache.',
      data: { path: where },
      cause: err,
    });
  }
  if (sys.code === 'EACCES' || sys.code === 'EPERM' || sys.code === 'EROFS') {
    return new HubcacheError({
      code: 'E_PERMISSION',
      message: `Permission denied while trying to ${action}${where ? ` (${where})` : ''}`,
      hint:
        sys.code === 'EROFS'
          ? 'The cache is mounted read-only; mount it writable or use only cached files.'
          : 'Run `hubcache doctor` to see which files the current user cannot write and how to fix them.',
      data: { path: where, errno: sys.code },
      cause: err,
    });
  }
  return err;
}
