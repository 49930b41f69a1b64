/**
 * The dashboard of `hubcache serve`: the page at `/` and the JSON API under `/api/hubcache/`
 * that it polls. Reads come from memory (the last scan, the metrics, the store's fills), so the
 * page stays fast on a large cache and never waits for a scan; actions need an admin token.
 * Hub routes are never shadowed: the Hub has no `/api/hubcache/` and no page at `/` that a
 * client library fetches.
 */
import type { Metrics } from '../metrics.js';
import { formatBytes } from '../../cli/format.js';
import type { BlobStore } from '../../store/blobStore.js';
import { loadManifest } from '../../manifest/loadManifest.js';
import type { Manifest } from '../../manifest/manifest.js';
import { hfHomeForCacheDir } from '../../manifest/resolveManifestCache.js';
import { servicesByRepo } from '../../manifest/servicesByRepo.js';
import type { AppRequest, Reply } from '../reply.js';
import type { AdminTokens } from './adminTokens.js';
import { CacheSnapshot } from './cacheSnapshot.js';
import { DashboardActions, type ActionRecord } from './dashboardActions.js';
import { DashboardAssets } from './dashboardAssets.js';
import { dashboardApi } from './dashboardApi.js';
import { DoctorFindings } from './doctorFindings.js';
import { TrafficHistory } from './trafficHistory.js';

export interface CreateDashboardParams {
  cacheDir: string;
  metrics: Metrics;
  /** Fills in flight come from here. */
  store: Pick<BlobStore, 'fills'>;
  /** `--manifest FILE` (else $HUBCACHE_MANIFEST, else ./hubcache.yaml if present). */
  manifestPath?: string | undefined;
  manifestEnvPath?: string | undefined;
  /** The eviction budget shown against the cache size (`--budget`), and evict's default. */
  budgetBytes?: number | undefined;
  /** Without them the dashboard is read-only. */
  adminTokens?: AdminTokens | undefined;
  /** Reads need an admin token too (serve with --token-file). */
  readNeedsAdmin?: boolean;
  /** Where `sync` downloads from (the mirror's upstream) and how. */
  upstream: string;
  offline: boolean;
  token?: string | undefined;
  /** Rescan at least this often (default 60 s). */
  scanIntervalMs?: number;
  /** Traffic samples this often (default 2 s). */
  trafficIntervalMs?: number;
  /** Doctor runs at most this often (default 5 min). */
  doctorIntervalMs?: number;
  /** Every action, with who asked. */
  log?: (record: ActionRecord) => void;
}

export interface Dashboard {
  /** The reply for a dashboard route, or undefined for any other request. */
  handle(req: AppRequest): Promise<Reply | undefined>;
  /** The cache changed (a fill ended): rescan soon. */
  changed(): void;
  /** Resolves once the first scan is done (tests, start-up messages). */
  ready(): Promise<void>;
  close(): void;
}

export async function createDashboard(params: CreateDashboardParams): Promise<Dashboard> {
  const assets = await DashboardAssets.load();
  let manifest: Manifest | undefined;
  let manifestError: string | undefined;
  const readManifest = async (): Promise<Manifest | undefined> => {
    try {
      manifest = await loadManifest({ path: params.manifestPath, envPath: params.manifestEnvPath, required: false });
      manifestError = undefined;
    } catch (err) {
      manifestError = (err as Error).message;
    }
    return manifest;
  };
  await readManifest();
  // Stops the children (doctor, verify) when the server closes, so shutdown does not wait for a cache walk.
  const closing = new AbortController();
  const doctor = new DoctorFindings({ cacheDir: params.cacheDir, signal: closing.signal, ...(params.doctorIntervalMs !== undefined ? { minIntervalMs: params.doctorIntervalMs } : {}) });
  let firstScan: () => void = () => undefined;
  const scanned = new Promise<void>((resolve) => (firstScan = resolve));
  const snapshot = new CacheSnapshot({
    cacheDir: params.cacheDir,
    ...(params.scanIntervalMs !== undefined ? { intervalMs: params.scanIntervalMs } : {}),
    onScan: () => {
      firstScan();
      void readManifest();
      doctor.maybeRun();
    },
  });
  const traffic = new TrafficHistory(params.metrics, { ...(params.trafficIntervalMs !== undefined ? { intervalMs: params.trafficIntervalMs } : {}) });
  const actions = new DashboardActions({
    cacheDir: params.cacheDir,
    manifestPath: params.manifestPath ?? params.manifestEnvPath,
    loadManifest: readManifest,
    changed: () => {
      snapshot.changed();
      doctor.maybeRun({ force: true });
    },
    sync: async (m) => {
      // Loaded on first use: the YAML and download code are not needed to serve the page.
      const { syncManifest } = await import('../../manifest/syncManifest.js');
      const result = await syncManifest({
        manifest: m,
        cacheDir: params.cacheDir,
        hfHome: hfHomeForCacheDir({ cacheDir: params.cacheDir, manifest: m }),
        endpoint: params.upstream,
        token: params.token,
        offline: params.offline,
      });
      const bad = result.services.filter((s) => !s.ok).map((s) => s.name);
      return {
        ok: result.ok,
        bytesDownloaded: result.bytesDownloaded,
        summary: `${result.services.length - bad.length}/${result.services.length} service(s) complete, ${formatBytes(result.bytesDownloaded)} downloaded` + (bad.length > 0 ? `; incomplete: ${bad.join(', ')}` : ''),
      };
    },
    ...(params.log ? { log: params.log } : {}),
    signal: closing.signal,
  });
  snapshot.start();
  traffic.start();
  const api = dashboardApi({
    cacheDir: params.cacheDir,
    snapshot,
    traffic,
    doctor,
    actions,
    store: params.store,
    metrics: params.metrics,
    adminTokens: params.adminTokens,
    readNeedsAdmin: params.readNeedsAdmin === true,
    budgetBytes: params.budgetBytes,
    upstream: params.upstream,
    offline: params.offline,
    manifest: () => ({ manifest, error: manifestError }),
    servicesByRepo: () => (manifest ? servicesByRepo({ manifest }) : new Map()),
  });
  return {
    async handle(req) {
      const rawPath = req.rawUrl.split('?')[0] ?? '/';
      if (req.method === 'GET' || req.method === 'HEAD') {
        const asset = assets.reply({ rawPath });
        if (asset) return asset;
      }
      return api.handle(req, rawPath);
    },
    changed: () => snapshot.changed(),
    ready: () => scanned,
    close() {
      closing.abort();
      snapshot.close();
      traffic.close();
    },
  };
}
