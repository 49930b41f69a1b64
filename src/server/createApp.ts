/**
 * The mirror as an app: `handle(request) -> Reply`, no socket involved (tests call it directly;
 * `listen` serves it). Every request is admitted by the access policy, routed on its raw path,
 * counted and logged (never with its token).
 */
import { isHubcacheError } from '../errors.js';
import type { BlobStore } from '../store/blobStore.js';
import { AccessPolicy } from './accessPolicy.js';
import { BoundedMap } from './boundedMap.js';
import { Metrics } from './metrics.js';
import { parseRoute, type Route } from './parseRoute.js';
import { proxyMetadata } from './proxyMetadata.js';
import { proxyWhoami } from './proxyWhoami.js';
import { isPeerPath, peerPart } from './peerPart.js';
import { DEFAULT_REF_TTL_MS, RefPins } from './refPins.js';
import { hubErrorReply, jsonReply, textReply, type AppRequest, type Reply } from './reply.js';
import { resolveFile } from './resolveFile.js';
import type { ServerContext } from './serverContext.js';
import { SingleFlight } from './singleFlight.js';
import type { FileFacts } from '../store/blobStore.js';
import type { Dashboard } from './dashboard/createDashboard.js';

export interface CreateAppParams {
  store: BlobStore;
  /** Upstream Hub base URL (default https://huggingface.co). */
  upstream: string;
  offline?: boolean;
  /** Mirror-issued client tokens (`--token-file`); unset: clients' own tokens go upstream. */
  clientTokens?: ReadonlySet<string> | undefined;
  /** The mirror's own upstream token, used only together with client tokens. */
  upstreamToken?: string | undefined;
  upstreamTimeoutMs?: number;
  refTtlMs?: number;
  accessTtlMs?: number;
  /** Repos known public from an earlier run (for offline answers). */
  knownPublic?: Iterable<string>;
  onPublic?: (key: string) => void;
  /** Counters to use (default: new ones); the dashboard samples the same object. */
  metrics?: Metrics;
  /** The page at `/` and its API under `/api/hubcache/` (see server/dashboard/). */
  dashboard?: Pick<Dashboard, 'handle'> | undefined;
  /** One structured record per answered request. */
  log?: (record: RequestLog) => void;
}

export interface RequestLog {
  time: string;
  method: string;
  route: string;
  path: string;
  status: number;
  ms: number;
  cache?: string | undefined;
  remote?: string | undefined;
}

export interface App {
  handle(req: AppRequest): Promise<Reply>;
  readonly metrics: Metrics;
  readonly context: ServerContext;
}

export function createApp(params: CreateAppParams): App {
  const metrics = params.metrics ?? new Metrics();
  const context: ServerContext = {
    store: params.store,
    upstream: params.upstream.replace(/\/+$/, ''),
    upstreamTimeoutMs: params.upstreamTimeoutMs ?? 10_000,
    offline: params.offline ?? false,
    refs: new RefPins(params.refTtlMs ?? DEFAULT_REF_TTL_MS),
    refTtlMs: params.refTtlMs ?? DEFAULT_REF_TTL_MS,
    facts: new BoundedMap<FileFacts>(200_000),
    access: new AccessPolicy({
      clientTokens: params.clientTokens,
      upstreamToken: params.upstreamToken,
      ...(params.accessTtlMs !== undefined ? { ttlMs: params.accessTtlMs } : {}),
      ...(params.knownPublic ? { knownPublic: params.knownPublic } : {}),
      ...(params.onPublic ? { onPublic: params.onPublic } : {}),
    }),
    metrics,
    upstreamCalls: new SingleFlight(),
  };

  async function route(req: AppRequest, target: Route): Promise<Reply> {
    if (target.kind === 'healthz') return jsonReply({ value: { status: 'ok', offline: context.offline } });
    if (target.kind === 'metrics') {
      const fills = context.store.fills();
      return textReply({
        text: metrics.render({ fillsInFlight: fills.length, fillBytesInFlight: fills.reduce((s, f) => s + f.written, 0) }),
        contentType: 'text/plain; version=0.0.4; charset=utf-8',
      });
    }
    if (target.kind === 'bad-request') return hubErrorReply({ status: 400, message: target.message });
    if (target.kind === 'not-found') return hubErrorReply({ status: 404, message: 'Not found' });
    const admission = context.access.admit({ authorization: req.headers.authorization });
    if (!admission.ok) return hubErrorReply({ status: admission.status, message: admission.message });
    if (target.kind === 'whoami') return proxyWhoami({ ctx: context, req, admission });
    if (target.kind === 'resolve') {
      if (req.method !== 'GET' && req.method !== 'HEAD') return hubErrorReply({ status: 405, message: 'Use GET or HEAD here' });
      return resolveFile({ ctx: context, req, route: target, admission });
    }
    return proxyMetadata({ ctx: context, req, route: target, admission });
  }

  return {
    metrics,
    context,
    async handle(req) {
      const started = Date.now();
      const rawPath = req.rawUrl.split('?')[0] ?? '/';
      let target: Route | { kind: 'dashboard' } | { kind: 'peer-part' } = { kind: 'dashboard' };
      let reply: Reply;
      try {
        // Dashboard routes (`/`, `/hubcache-ui/*`, `/api/hubcache/*`) are no Hub route, so they are tried first;
        // before them the one route other replicas use (its own key, no dashboard or client token).
        if (isPeerPath(rawPath)) {
          target = { kind: 'peer-part' };
          reply = await peerPart({ store: context.store, req, rawPath });
        } else {
          const page = await params.dashboard?.handle(req);
          if (page) reply = page;
          else {
            target = parseRoute({ rawPath });
            reply = await route(req, target);
          }
        }
      } catch (err) {
        // Typed errors of our own (a bad etag from upstream, a full disk) keep their message; anything else is a bug.
        reply = isHubcacheError(err)
          ? hubErrorReply({ status: err.code === 'E_DISK_FULL' ? 507 : 502, message: err.message })
          : hubErrorReply({ status: 500, message: 'Internal error in the mirror' });
      }
      metrics.countRequest({ route: target.kind, status: reply.status });
      params.log?.({
        time: new Date(started).toISOString(),
        method: req.method,
        route: target.kind,
        path: rawPath.slice(0, 512),
        status: reply.status,
        ms: Date.now() - started,
        cache: reply.headers['x-hubcache-cache'],
        remote: req.remoteAddress,
      });
      return reply;
    },
  };
}
