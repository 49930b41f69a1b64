/**
 * What the mirror answers when upstream did not give it what it needed. The rule that matters
 * (DESIGN 2b): an upstream that is down, slow or failing is a 502/503/504, never a 404 or 401,
 * because huggingface_hub falls back to its own cache only on those; a real "no" from the Hub
 * (RepoNotFound, GatedRepo, EntryNotFound...) is passed on with its status and X-Error-Code.
 */
import { isHubcacheError } from '../errors.js';
import { isCommitHash } from '../cache/revision.js';
import { hubErrorReply, type Reply } from './reply.js';

export type UpstreamFailureKind = 'refusal' | 'unavailable';

export function upstreamFailureKind(err: unknown): UpstreamFailureKind {
  if (!isHubcacheError(err)) return 'unavailable';
  const status = typeof err.data.status === 'number' ? err.data.status : undefined;
  return status !== undefined && status >= 400 && status < 500 && status !== 429 && status !== 408 ? 'refusal' : 'unavailable';
}

export function upstreamFailureReply(err: unknown): Reply {
  if (!isHubcacheError(err)) return hubErrorReply({ status: 502, message: 'Upstream request failed' });
  const status = typeof err.data.status === 'number' ? err.data.status : undefined;
  const hubCode = typeof err.data.hubErrorCode === 'string' ? err.data.hubErrorCode : undefined;
  const hubMessage = typeof err.data.hubMessage === 'string' ? err.data.hubMessage : undefined;
  // Clients make `.no_exist/<commit>/` of it: only ever a commit id, whatever upstream sent.
  const commit = typeof err.data.repoCommit === 'string' && isCommitHash(err.data.repoCommit) ? err.data.repoCommit : undefined;
  if (status === 429) {
    const retryAfterMs = typeof err.data.retryAfterMs === 'number' ? err.data.retryAfterMs : undefined;
    return hubErrorReply({
      status: 429,
      message: hubMessage ?? 'Upstream rate limit reached',
      headers: retryAfterMs === undefined ? {} : { 'retry-after': String(Math.ceil(retryAfterMs / 1000)) },
    });
  }
  if (upstreamFailureKind(err) === 'refusal' && status !== undefined) {
    return hubErrorReply({
      status,
      code: hubCode,
      message: hubMessage ?? `Upstream answered HTTP ${status}`,
      headers: commit ? { 'x-repo-commit': commit } : {},
    });
  }
  const errno = typeof err.data.errno === 'string' ? err.data.errno : undefined;
  if (errno === 'HUBCACHE_HEADERS_TIMEOUT' || errno === 'ETIMEDOUT' || errno === 'HUBCACHE_STALLED') {
    return hubErrorReply({ status: 504, message: 'Upstream did not answer in time, and the mirror cannot answer from its cache' });
  }
  return hubErrorReply({
    status: 502,
    message: status !== undefined ? `Upstream answered HTTP ${status}, and the mirror cannot answer from its cache` : 'Upstream is unreachable, and the mirror cannot answer from its cache',
  });
}

/**
 * A fill that failed before its first byte, after upstream's HEAD said the file exists: a full
 * disk is 507, a rate limit is passed on, a slow upstream 504; anything else is 502 (never a 4xx,
 * which clients would take for "this file does not exist").
 */
export function fillFailureReply(err: unknown): Reply {
  if (isHubcacheError(err, 'E_DISK_FULL')) return hubErrorReply({ status: 507, message: 'The mirror\'s disk is full' });
  if (isHubcacheError(err, 'E_PERMISSION')) return hubErrorReply({ status: 503, message: 'The mirror cannot write to its cache' });
  if (!isHubcacheError(err)) return hubErrorReply({ status: 502, message: 'The mirror could not fetch the file from upstream' });
  const status = typeof err.data.status === 'number' ? err.data.status : undefined;
  if (upstreamFailureKind(err) === 'refusal') return hubErrorReply({ status: 502, message: `Upstream refused the file's bytes (HTTP ${status})` });
  return upstreamFailureReply(err);
}
