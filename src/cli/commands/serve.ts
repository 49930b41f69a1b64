/** `hubcache serve`: a pull-through Hub mirror over the cache (HF_ENDPOINT for every other client). */
import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { HubcacheError } from '../../errors.js';
import { createApp } from '../../server/createApp.js';
import { listen } from '../../server/listen.js';
import { loadKnownPublic, saveKnownPublic } from '../../server/knownPublic.js';
import { createLocalStore } from '../../store/localStore.js';
import type { BlobStore, FillStatus } from '../../store/blobStore.js';
import { parseS3Location } from '../../store/s3Location.js';
import { resolveS3Settings } from '../../config.js';
import { Metrics } from '../../server/metrics.js';
import { createDashboard, type Dashboard } from '../../server/dashboard/createDashboard.js';
import { readAdminTokens } from '../../server/dashboard/adminTokens.js';
import { parseSize } from '../format.js';
import { addCommonOptions, runCommand, type CommonOptions } from '../context.js';
import { parsePositiveInt } from '../parsePositiveInt.js';
import { localEvictor } from '../localEvictor.js';
import { optionalNative } from '../../cache/flock.js';

interface ServeOptions extends CommonOptions {
  host: string;
  port: string;
  upstream?: string;
  offline?: boolean;
  tokenFile?: string;
  timeout: string;
  refTtl: string;
  accessTtl: string;
  maxConnections: string;
  grace: string;
  log: boolean;
  dashboard: boolean;
  adminTokenFile?: string;
  budget?: string;
  manifest?: string;
  scanInterval: string;
  store?: string;
  presign?: string;
  leaseTtl: string;
  advertiseUrl?: string;
}

export function registerServeCommand(program: Command): void {
  const cmd = program
    .command('serve')
    .description('run a pull-through Hugging Face Hub mirror over the cache: clients set HF_ENDPOINT to it, each file crosses the internet once')
    .option('--host <host>', 'address to bind (0.0.0.0 to serve other machines)', '127.0.0.1')
    .option('-p, --port <port>', 'port to listen on', '8090')
    .option('--upstream <url>', 'the Hub to mirror (default: $HUBCACHE_UPSTREAM, else https://huggingface.co)')
    .option('--offline', 'never ask upstream: serve the cache and the last known branch mappings')
    .option('--token-file <file>', 'client tokens, one per line: clients must send one; upstream then gets $HF_TOKEN')
    .option('--timeout <seconds>', 'wait this long for an upstream metadata answer before answering from the cache', '10')
    .option('--ref-ttl <seconds>', 'reuse a branch -> commit answer this long', '30')
    .option('--access-ttl <seconds>', "remember upstream's yes to a client's token this long", '300')
    .option('--max-connections <n>', 'open client connections at most', '1024')
    .option('--grace <seconds>', 'on SIGTERM, answers in flight get this long to finish before fills are abandoned', '10')
    .option('--no-log', 'no request log on stderr')
    .option('--no-dashboard', 'no dashboard page at / and no /api/hubcache/ API')
    .option('--admin-token-file <file>', 'admin tokens, one per line as label:token: they may run sync, prune and evict from the dashboard (read-only without)')
    .option('--budget <size>', "the cache's eviction budget, e.g. 200GB: shown against the cache size, and the dashboard's evict default")
    .option('--manifest <file>', 'the manifest whose services and links the dashboard shows, and sync syncs (default: $HUBCACHE_MANIFEST, else ./hubcache.yaml if present)')
    .option('--scan-interval <seconds>', 'rescan the cache for the dashboard at least this often (fills and actions rescan at once)', '60')
    .option('--store <s3://bucket/prefix>', 'share blobs and metadata with other replicas in an S3 bucket (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, ...); the cache dir becomes this replica\'s local read cache')
    .option('--presign <seconds>', 'with --store: answer GETs of stored blobs with a 302 to a presigned URL valid this long (bytes then flow from the store)')
    .option('--lease-ttl <seconds>', 'with --store: a replica that stops renewing its fill lease this long is taken over', '15')
    .option(
      '--advertise-url <url>',
      'with --store: how other replicas reach this one, to fetch the parts of a fill it leads (default: $HUBCACHE_ADVERTISE_URL, else http://HOST:PORT with the bound address, or with this host\'s name when --host is 0.0.0.0 or ::)',
    );
  addCommonOptions(cmd).addHelpText(
    'after',
    `
Clients: HF_ENDPOINT=http://HOST:PORT for huggingface_hub, transformers and hubcache;
MODEL_ENDPOINT=http://HOST:PORT/ for llama.cpp; hubUrl for @huggingface/hub.
Files land in the same Hub-layout cache that local services mount (--cache-dir / HF_HOME).

Access: without --token-file, each client's own token is passed upstream and upstream decides;
a cached private or gated file is served only to a client upstream allowed within --access-ttl.
With --token-file, only clients presenting a listed token are served, and the mirror fetches with
its own HF_TOKEN. Upstream down or slow: 502/504 (Python clients then use their own cache).
Xet is hidden from clients so they download over plain HTTP through the mirror; huggingface_hub
refuses plain-HTTP files over 50 GB.

Examples:
  $ hubcache serve                                   # 127.0.0.1:8090, cache from $HF_HOME
  $ hubcache serve --host 0.0.0.0 --token-file /run/secrets/mirror-tokens
  $ HF_ENDPOINT=http://127.0.0.1:8090 hf download Qwen/Qwen3-0.6B
  $ curl -s http://127.0.0.1:8090/metrics
  $ hubcache serve --manifest hubcache.yaml --budget 500GB --admin-token-file /run/secrets/admin-tokens
  $ AWS_ENDPOINT_URL=http://10.0.0.5:7480 hubcache serve --host 0.0.0.0 --store s3://models/mirror   # one of N replicas
  $ hubcache serve --host 0.0.0.0 --store s3://models/mirror --advertise-url http://10.0.0.7:8090

Scale-out: replicas started with the same --store share one S3 bucket (Ceph RGW, AWS S3, R2, MinIO):
one upstream transfer per blob whatever replica a client hits, and any replica may die at any time.
The endpoint, region and credentials come from the usual AWS settings (AWS_ENDPOINT_URL,
AWS_REGION, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE); an IP-address or localhost
endpoint uses path-style requests (else set AWS_S3_FORCE_PATH_STYLE=true). --budget with --store
also evicts the local read cache down to that size after each fill. Replicas following a fill get its
parts from the filling replica (at its --advertise-url, with a key its lease object carries), each
checked against the store's part object; a peer that is unreachable or wrong means a read of the store.

Dashboard: http://HOST:PORT/ shows sizes against the disk and the budget, repos, services and their
links, traffic, fills in flight, doctor's findings and the last verify; its data is JSON under
/api/hubcache/. Actions (sync, prune and evict as plan -> review -> confirm) need a token of
--admin-token-file and are logged on stderr with the token's label.`,
  );
  cmd.action(
    runCommand(async ({ config, out }, options: ServeOptions) => {
      const port = parsePositiveInt({ text: options.port, name: '--port', min: 0, max: 65535 });
      const upstream = (options.upstream ?? config.upstream).replace(/\/+$/, '');
      if (!/^https?:\/\/[^/]+/i.test(upstream)) {
        throw new HubcacheError({ code: 'E_USAGE', message: `--upstream must be an http:// or https:// URL, got "${upstream.slice(0, 100)}"` });
      }
      const givenAdvertiseUrl = options.advertiseUrl ?? nonEmptyEnv('HUBCACHE_ADVERTISE_URL');
      if (givenAdvertiseUrl !== undefined && !isHttpUrl(givenAdvertiseUrl)) {
        throw new HubcacheError({ code: 'E_USAGE', message: `--advertise-url must be an http:// or https:// URL, got "${givenAdvertiseUrl.slice(0, 100)}"` });
      }
      const clientTokens = options.tokenFile === undefined ? undefined : await readTokens(options.tokenFile);
      const adminTokens = options.adminTokenFile === undefined ? undefined : await readAdminTokens({ path: options.adminTokenFile });
      const budgetBytes = options.budget === undefined ? undefined : parseSize({ text: options.budget, what: '--budget' });
      const scanIntervalMs = parsePositiveInt({ text: options.scanInterval, name: '--scan-interval', min: 1, max: 86400 }) * 1000;
      const offline = options.offline === true || config.offline;
      // Streaming allocates a fresh 1 MiB Buffer per chunk; glibc's defaults give those pages back at
      // once and the next chunk faults them in again (~1.5 s of CPU per GiB served on the test VM).
      const mallocTuned = optionalNative('tuneMalloc')?.() ?? false;
      if (options.log) process.stderr.write(`${JSON.stringify({ event: 'malloc', tuned: mallocTuned })}\n`);
      const metrics = new Metrics();
      let dashboard: Dashboard | undefined;
      const onFillEnd = (fill: FillStatus & { error?: string }): void => {
        dashboard?.changed();
        if (options.log) process.stderr.write(`${JSON.stringify({ event: 'fill', ...fill })}\n`);
      };
      const onUpstreamBytes = (bytes: number): void => {
        metrics.upstreamBytes += bytes;
      };
      const onFollowerPart = (source: 'peer' | 'store'): void => {
        metrics.followerParts[source] += 1;
      };
      // Known once listening (port 0 picks one); fills start only after that.
      let advertiseUrl: string | undefined;
      let store: BlobStore;
      let storeInfo: { url: string; conditionalWrites: boolean } | null = null;
      if (options.store !== undefined) {
        const location = parseS3Location({ url: options.store });
        const presignSeconds = options.presign === undefined ? undefined : parsePositiveInt({ text: options.presign, name: '--presign', min: 1, max: 7 * 86400 });
        // Loaded here only: a serve without --store (and --help, --version) does not load the AWS SDK.
        const [{ openS3Connection }, { createS3Store }] = await Promise.all([import('../../store/s3Connection.js'), import('../../store/s3Store.js')]);
        const conn = await openS3Connection({ location, settings: resolveS3Settings() });
        storeInfo = { url: options.store, conditionalWrites: conn.conditionalWrites };
        // Said once at start: without conditional writes two replicas may fill one blob twice (never wrongly).
        process.stderr.write(
          `${JSON.stringify({ event: 'store', store: conn.describe, conditionalWrites: conn.conditionalWrites, note: conn.conditionalWrites ? 'If-None-Match honoured: one filler per blob' : 'If-None-Match not honoured: replicas may fill a blob twice (bytes still verified)' })}\n`,
        );
        const evictLocal = budgetBytes === undefined ? undefined : localEvictor({ cacheDir: config.cacheDir, budgetBytes });
        store = createS3Store({
          conn,
          cacheDir: config.cacheDir,
          leaseTtlMs: parsePositiveInt({ text: options.leaseTtl, name: '--lease-ttl', min: 1, max: 3600 }) * 1000,
          ...(presignSeconds !== undefined ? { redirectSeconds: presignSeconds } : {}),
          onUpstreamBytes,
          onFillEnd: (fill) => {
            onFillEnd(fill);
            evictLocal?.();
          },
          onLocalFillEnd: () => evictLocal?.(),
          log: (record) => process.stderr.write(`${JSON.stringify(record)}\n`),
          advertiseUrl: () => advertiseUrl,
          onFollowerPart,
        });
      } else {
        store = createLocalStore({ cacheDir: config.cacheDir, onUpstreamBytes, onFillEnd });
      }
      // A mirror for token holders only does not show its repos to anyone: its dashboard needs an admin token.
      if (options.dashboard && clientTokens && !adminTokens) out.warn('dashboard off: with --token-file it needs --admin-token-file (its data lists the cached repos)');
      if (options.dashboard && (!clientTokens || adminTokens)) {
        dashboard = await createDashboard({
          readNeedsAdmin: clientTokens !== undefined,
          cacheDir: config.cacheDir,
          metrics,
          store,
          manifestPath: options.manifest,
          manifestEnvPath: config.manifestPath,
          budgetBytes,
          adminTokens,
          upstream,
          offline,
          token: config.token,
          scanIntervalMs,
          // Actions are always logged (also with --no-log): who ran what is the point.
          log: (record) => process.stderr.write(`${JSON.stringify({ event: 'action', ...record })}\n`),
        });
      }
      const knownPublic = await loadKnownPublic({ cacheDir: config.cacheDir });
      const app = createApp({
        store,
        metrics,
        dashboard,
        upstream,
        offline,
        clientTokens,
        upstreamToken: clientTokens ? config.token : undefined,
        upstreamTimeoutMs: parsePositiveInt({ text: options.timeout, name: '--timeout', min: 1, max: 600 }) * 1000,
        refTtlMs: parsePositiveInt({ text: options.refTtl, name: '--ref-ttl', min: 0, max: 86400 }) * 1000,
        accessTtlMs: parsePositiveInt({ text: options.accessTtl, name: '--access-ttl', min: 0, max: 86400 }) * 1000,
        knownPublic,
        onPublic: () => void saveKnownPublic({ cacheDir: config.cacheDir, keys: app.context.access.publicKeys() }).catch(() => undefined),
        ...(options.log ? { log: (record) => process.stderr.write(`${JSON.stringify(record)}\n`) } : {}),
      });
      const server = await listen({
        app,
        host: options.host,
        port,
        maxConnections: parsePositiveInt({ text: options.maxConnections, name: '--max-connections', min: 1, max: 100_000 }),
        graceMs: parsePositiveInt({ text: options.grace, name: '--grace', min: 0, max: 3600 }) * 1000,
        onClose: async () => {
          dashboard?.close();
          await store.close();
        },
      }).catch((err: NodeJS.ErrnoException) => {
        dashboard?.close();
        if (err.code !== 'EADDRINUSE' && err.code !== 'EACCES') throw err;
        throw new HubcacheError({
          code: 'E_USAGE',
          message: `Cannot listen on ${options.host}:${port}: ${err.code === 'EADDRINUSE' ? 'the port is in use' : 'permission denied'}`,
          hint: 'Choose another --port (0 picks a free one), or stop the process using it.',
          cause: err,
        });
      });
      advertiseUrl = peerUrl({ given: givenAdvertiseUrl, host: options.host, url: server.url });
      out.result({
        data: { url: server.url, dashboard: dashboard ? `${server.url}/` : null, cacheDir: config.cacheDir, upstream, offline: app.context.offline, store: storeInfo ? { ...storeInfo, advertiseUrl } : null },
        text:
          `hubcache serve: ${server.url} (cache ${config.cacheDir}${storeInfo ? `, store ${storeInfo.url}` : ''}, upstream ${app.context.offline ? 'off (offline)' : upstream})` +
          (dashboard ? `\ndashboard: ${server.url}/${adminTokens ? '' : ' (read-only: no --admin-token-file)'}` : ''),
      });
      // SIGTERM (docker stop) and Ctrl-C: finish answers in flight, abandon fills cleanly, exit 0.
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          process.off('SIGTERM', stop);
          process.off('SIGINT', stop);
          void server.close().then(resolve);
        };
        process.on('SIGTERM', stop);
        process.on('SIGINT', stop);
      });
      return 0;
    }),
  );
}

/**
 * How other replicas reach this one: as given, else the bound address, or this host's name when
 * bound to every address (0.0.0.0 / ::), which other hosts cannot dial.
 */
function peerUrl(params: { given: string | undefined; host: string; url: string }): string {
  if (params.given !== undefined) return params.given.replace(/\/+$/, '');
  const wildcard = params.host === '0.0.0.0' || params.host === '::' || params.host === '' || params.host === '[::]';
  return wildcard ? `http://${hostname()}:${new URL(params.url).port}` : params.url;
}

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
  } catch {
    return false;
  }
}

function nonEmptyEnv(name: string): string | undefined {
  const value = process.env[name]?.trim();
  return value ? value : undefined;
}

async function readTokens(path: string): Promise<Set<string>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new HubcacheError({ code: 'E_USAGE', message: `Cannot read --token-file ${path}: ${(err as Error).message}`, cause: err });
  }
  // One token per line; `name:token` keeps a label beside it; # comments and blank lines are skipped.
  const tokens = new Set(
    text
      .split(/\r?\n/)
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#'))
      .map((line) => line.slice(line.lastIndexOf(':') + 1).trim()),
  );
  if (tokens.size === 0) throw new HubcacheError({ code: 'E_USAGE', message: `--token-file ${path} holds no token` });
  return tokens;
}
