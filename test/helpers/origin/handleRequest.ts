/**
 * One request: classify it, count it, maybe fault it, route it. The fixture is
 * read once up front so a concurrent `setFixture` cannot give one response
 * headers from one fixture and bytes from another.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { handleApi, handleWhoami } from './apiRoutes.js';
import { handleCdn } from './cdnRoute.js';
import type { OriginContext } from './context.js';
import type { FaultTarget } from './faults.js';
import { handleFile } from './fileRoute.js';
import { handleRefsRoutes } from './refsRoutes.js';
import { sendHubError } from './hubError.js';
import { parseTarget, splitRevision, type Target } from './parseTarget.js';
import { resolveRevision, type PreparedFixture } from './prepareFixture.js';
import type { RouteKind } from './stats.js';

/** `hub`: Hub routes only; `cdn`: CDN only; `both`: one server plays both (cdn: 'same-server'). */
export type ServerRole = 'hub' | 'cdn' | 'both';

let requestCounter = 0;

export async function handleRequest(params: { ctx: OriginContext; req: IncomingMessage; res: ServerResponse; role: ServerRole }): Promise<void> {
  const { req, res, role } = params;
  // Snapshot: setFixture may swap ctx.fixture while this request is in flight.
  const ctx: OriginContext = { ...params.ctx };
  const { stats } = ctx;
  const method = req.method ?? 'GET';
  const url = new URL(req.url ?? '/', 'http://origin.invalid');
  let target = parseTarget({ pathname: url.pathname, fixture: ctx.fixture });
  if ((role === 'hub' && target.kind === 'cdn') || (role === 'cdn' && target.kind !== 'cdn')) target = { kind: 'unknown' };
  const route = routeKind(target, method);
  const at = Date.now();

  stats.countRequest(route);
  stats.inFlight += 1;
  stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
  res.once('close', () => {
    stats.inFlight -= 1;
    const range = req.headers.range;
    stats.record({ at, method, url: req.url ?? '/', route, status: res.statusCode, ...(range ? { range } : {}), authorization: req.headers.authorization !== undefined });
  });
  res.setHeader('X-Request-Id', `Root=1-${(++requestCounter).toString(16).padStart(8, '0')}`);

  try {
    const faultTarget = faultTargetOf({ target, route, method, url, fixture: ctx.fixture });
    const statusFault = ctx.faults.takeStatus(faultTarget);
    if (statusFault) {
      const headers: Record<string, string> = statusFault.retryAfter === undefined ? {} : { 'Retry-After': String(statusFault.retryAfter) };
      return sendHubError({ req, res, error: { status: statusFault.status, message: statusFault.message ?? 'Injected fault', headers } });
    }
    if (role !== 'cdn' && handleRefsRoutes({ ctx, req, res, url })) return;
    switch (target.kind) {
      case 'file':
        return await handleFile({ ctx, req, res, target, faultTarget });
      case 'cdn':
        return await handleCdn({ ctx, req, res, sha256: target.sha256, query: url.searchParams, faultTarget });
      case 'info':
      case 'tree':
      case 'paths-info':
        return await handleApi({ ctx, req, res, target, url });
      case 'whoami':
        return handleWhoami({ ctx, req, res });
      case 'unknown':
        return sendHubError({ req, res, error: { status: 404, message: 'Not found' } });
    }
  } catch (error) {
    if (!res.headersSent) {
      sendHubError({ req, res, error: { status: 500, message: `origin bug: ${(error as Error).message}` } });
    } else {
      res.destroy(error as Error);
    }
  }
}

function routeKind(target: Target, method: string): RouteKind {
  switch (target.kind) {
    case 'file':
      return method === 'HEAD' ? 'head' : 'getResolve';
    case 'cdn':
      return 'cdn';
    case 'unknown':
      return 'unknown';
    default:
      return 'api';
  }
}

/** Best effort, before access checks: faults may target requests that end in errors too. */
function faultTargetOf(params: { target: Target; route: RouteKind; method: string; url: URL; fixture: PreparedFixture }): FaultTarget {
  const { target, route, method, url, fixture } = params;
  const base: FaultTarget = { route, method, etags: [] };
  if (target.kind === 'cdn') {
    const blob = fixture.blobsBySha256.get(target.sha256);
    const repo = url.searchParams.get('repo');
    return {
      ...base,
      repoId: repo === null ? undefined : repo.split('/').slice(1).join('/'),
      path: url.searchParams.get('path') ?? undefined,
      etags: blob ? [blob.sha256, blob.gitSha1] : [target.sha256],
    };
  }
  if (target.kind === 'unknown' || target.kind === 'whoami') return base;
  const withRepo = { ...base, repoId: target.repoId };
  if (target.kind !== 'file' || target.repo === undefined) return withRepo;
  const split = splitRevision({ repo: target.repo, segments: target.rest });
  if (split === undefined) return withRepo;
  const path = split.rest.join('/');
  const file = resolveRevision({ repo: target.repo, revision: split.revision })?.files.get(path);
  return { ...withRepo, path, etags: file ? [file.blob.sha256, file.blob.gitSha1] : [] };
}
