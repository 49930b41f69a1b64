/**
 * What the mirror answers when upstream did not give it what it needed. The rule that matters
 * (DESIGN 2b): an upstream that is down, slow or failing is a 502/503/504, never a 404 or 401,
 * because huggingface_hub falls back to its own cache only on those; a real "no" from the Hub
 * (RepoNotFound, GatedRepo, EntryNotFound...) is passed on with its status and X-Error-Code.
 */
import { isHubcacheError } from '../errors.js';
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
  const commit = typeof err.data.repoCommit === 'string' ? err.data.repoCommit : undefined;
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
