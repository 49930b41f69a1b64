/**
 * The dashboard's read-only JSON API and its admin actions, under `/api/hubcache/`:
 *   GET  overview          sizes, disk, budget, services and links, traffic, fills, doctor, verify, action log
 *   GET  repos             one page of repos (?offset, ?limit <= 500, ?sort, ?q)
 *   GET  whoami            which admin token the request carries (the page checks a pasted token)
 *   POST actions/plan      {command: "prune" | "evict", maxSize?}  -> a plan to review (admin)
 *   POST actions/confirm   {planId}                                  -> runs that plan (admin)
 *   POST actions/sync      -> syncs the manifest in the background (admin)
 *   POST actions/verify    -> runs verify in the background (admin)
 */
import { isHubcacheError } from '../../errors.js';
import { formatRepoRef } from '../../cache/repoId.js';
import { parseSize } from '../../cli/format.js';
import { readLastVerify } from '../../maintenance/lastVerify.js';
import type { Manifest } from '../../manifest/manifest.js';
import { hfHomeForCacheDir } from '../../manifest/resolveManifestCache.js';
import type { BlobStore } from '../../store/blobStore.js';
import type { Metrics } from '../metrics.js';
import { BodyTooLarge, jsonReply, type AppRequest, type Reply } from '../reply.js';
import type { AdminTokens } from './adminTokens.js';
import type { CacheSnapshot } from './cacheSnapshot.js';
import type { ActionKind, DashboardActions } from './dashboardActions.js';
import { SECURITY_HEADERS } from './dashboardAssets.js';
import type { DoctorFindings } from './doctorFindings.js';
import { REPO_SORTS, repoPage, type RepoSort } from './repoPage.js';
import { serviceStatus } from './serviceStatus.js';
import type { TrafficHistory } from './trafficHistory.js';

export const API_PREFIX = '/api/hubcache/';

export interface DashboardApiParams {
  cacheDir: string;
  snapshot: CacheSnapshot;
  traffic: TrafficHistory;
  doctor: DoctorFindings;
  actions: DashboardActions;
  store: Pick<BlobStore, 'fills'>;
  metrics: Metrics;
  adminTokens: AdminTokens | undefined;
  /** Reads need an admin token too (a mirror for token holders only must not list its repos to anyone). */
  readNeedsAdmin: boolean;
  budgetBytes: number | undefined;
  upstream: string;
  offline: boolean;
  manifest: () => { manifest: Manifest | undefined; error: string | undefined };
  servicesByRepo: () => ReadonlyMap<string, string[]>;
}

const TOP_REPOS = 12;
const MAX_BODY = 64 * 1024;

export function dashboardApi(params: DashboardApiParams): { handle(req: AppRequest, rawPath: string): Promise<Reply | undefined> } {
  const reply = (value: unknown, status = 200): Reply => jsonReply({ status, value, headers: { ...SECURITY_HEADERS, 'cache-control': 'no-store' } });
  const fail = (status: number, message: string): Reply => reply({ error: message }, status);

  async function overview(): Promise<unknown> {
    const state = params.snapshot.current;
    const scan = state.scan;
    const { manifest, error: manifestError } = params.manifest();
    const repos = scan?.repos ?? [];
    const top = [...repos].sort((a, b) => b.sizeOnDisk - a.sizeOnDisk).slice(0, TOP_REPOS);
    const now = Date.now();
    return {
      now,
      cacheDir: params.cacheDir,
      upstream: params.upstream,
      offline: params.offline,
      admin: params.adminTokens !== undefined,
      scan: {
        generation: state.generation,
        finishedAt: state.finishedAt,
        ms: state.ms,
        scanning: state.scanning,
        error: state.error,
        repos: repos.length,
        revisions: repos.reduce((n, r) => n + r.revisions.length, 0),
        files: repos.reduce((n, r) => n + r.nbFiles, 0),
        sizeOnDisk: scan?.sizeOnDisk ?? 0,
        incomplete: { count: repos.reduce((n, r) => n + r.incomplete.files.length, 0), bytes: repos.reduce((n, r) => n + r.incomplete.bytes, 0) },
        orphanBytes: repos.reduce((n, r) => n + r.orphanBlobs.bytes, 0),
        problems: repos.reduce((n, r) => n + r.warnings.length, 0) + (scan?.warnings.length ?? 0),
      },
      disk: state.disk ?? null,
      budget: params.budgetBytes !== undefined ? { maxBytes: params.budgetBytes, source: '--budget' } : null,
      topRepos: top.map((r) => ({ id: formatRepoRef(r), sizeOnDisk: r.sizeOnDisk })),
      manifest: manifest ? { path: manifest.path, services: manifest.services.length } : null,
      manifestError: manifestError ?? null,
      services: await serviceStatus({ manifest, hfHome: hfHomeForCacheDir({ cacheDir: params.cacheDir, manifest }), scan }),
      traffic: params.traffic.list(),
      requests: params.metrics.requestCounts(),
      fills: params.store.fills().map((f) => {
        const seconds = Math.max(0.001, (now - f.startedAt) / 1000);
        return { ...f, bytesPerSecond: Math.round(f.written / seconds) };
      }),
      doctor: params.doctor.current,
      verify: (await readLastVerify({ cacheDir: params.cacheDir })) ?? null,
      actions: params.actions.log().slice(0, 30),
    };
  }

  /** The admin token's label, or a refusal reply (logged). */
  function admin(req: AppRequest, action: ActionKind): { who: string } | Reply {
    if (!params.adminTokens) {
      params.actions.refused({ who: undefined, action, why: 'read-only dashboard (no --admin-token-file)' });
      return fail(403, 'This dashboard is read-only: start hubcache serve with --admin-token-file to allow actions');
    }
    const who = params.adminTokens.whoIs(req.headers.authorization);
    if (who === undefined) {
      params.actions.refused({ who: undefined, action, why: req.headers.authorization ? 'wrong admin token' : 'no admin token' });
      return fail(401, 'An admin token is required (Authorization: Bearer <token>)');
    }
    return { who };
  }

  async function body(req: AppRequest): Promise<Record<string, unknown>> {
    const data = await req.readBody(MAX_BODY);
    if (data.byteLength === 0) return {};
    const value: unknown = JSON.parse(data.toString('utf8'));
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  }

  async function action(req: AppRequest, name: string): Promise<Reply> {
    const kind: ActionKind | undefined =
      name === 'plan' ? 'plan-prune' : name === 'confirm' ? 'confirm' : name === 'sync' ? 'sync' : name === 'verify' ? 'verify' : undefined;
    if (!kind) return fail(404, 'No such action');
    const input = await body(req);
    const kindFor = kind === 'plan-prune' && input.command === 'evict' ? 'plan-evict' : kind;
    const auth = admin(req, kindFor);
    if (!('who' in auth)) return auth;
    const { who } = auth;
    if (name === 'plan') {
      if (input.command !== 'prune' && input.command !== 'evict') return fail(400, 'command must be "prune" or "evict"');
      const maxSize = typeof input.maxSize === 'string' && input.maxSize.trim() !== '' ? input.maxSize : undefined;
      const maxBytes = maxSize !== undefined ? parseSize({ text: maxSize, what: 'maxSize' }) : params.budgetBytes;
      const command = input.command;
      // Planning a big cache under load can outlast the connection's idle timeout (60 s).
      const plan = (): ReturnType<DashboardActions['plan']> => params.actions.plan({ who, command, maxBytes });
      return reply(await (req.whileServerWorks ? req.whileServerWorks(plan) : plan()));
    }
    if (name === 'confirm') {
      if (typeof input.planId !== 'string') return fail(400, 'planId is required');
      return reply(await params.actions.confirm({ who, planId: input.planId }));
    }
    if (name === 'sync') return reply(await params.actions.startSync({ who }), 202);
    return reply(params.actions.startVerify({ who }), 202);
  }

  return {
    async handle(req, rawPath) {
      if (!rawPath.startsWith(API_PREFIX)) return undefined;
      const route = rawPath.slice(API_PREFIX.length);
      try {
        if (route.startsWith('actions/')) {
          if (req.method !== 'POST') return fail(405, 'Use POST for actions');
          return await action(req, route.slice('actions/'.length));
        }
        if (req.method !== 'GET' && req.method !== 'HEAD') return fail(405, 'Use GET here');
        if (route !== 'whoami' && params.readNeedsAdmin && params.adminTokens?.whoIs(req.headers.authorization) === undefined) {
          return fail(401, 'This dashboard needs an admin token (the mirror serves token holders only)');
        }
        if (route === 'overview') return reply(await overview());
        if (route === 'whoami') {
          const who = params.adminTokens?.whoIs(req.headers.authorization);
          return reply({ admin: who ?? null, actionsEnabled: params.adminTokens !== undefined });
        }
        if (route === 'repos') {
          const query = new URLSearchParams(req.rawUrl.split('?')[1] ?? '');
          const sort = (REPO_SORTS as readonly string[]).includes(query.get('sort') ?? '') ? (query.get('sort') as RepoSort) : 'size';
          const offset = clampInt(query.get('offset'), 0, 0, 10_000_000);
          const limit = clampInt(query.get('limit'), 50, 1, 500);
          return reply({
            generation: params.snapshot.current.generation,
            ...repoPage({ scan: params.snapshot.current.scan, offset, limit, sort, filter: query.get('q') ?? undefined, services: params.servicesByRepo() }),
          });
        }
        return fail(404, 'No such dashboard route');
      } catch (err) {
        if (err instanceof BodyTooLarge) return fail(413, 'Request body too large');
        if (err instanceof SyntaxError) return fail(400, 'The body must be JSON');
        if (isHubcacheError(err)) return fail(err.code === 'E_BUSY' ? 409 : err.exitCode === 2 ? 400 : 500, err.message);
        return fail(500, `Dashboard error: ${(err as Error).message}`);
      }
    },
  };
}

function clampInt(text: string | null, fallback: number, min: number, max: number): number {
  const n = text === null ? NaN : Number(text);
  return Number.isInteger(n) ? Math.min(max, Math.max(min, n)) : fallback;
}
