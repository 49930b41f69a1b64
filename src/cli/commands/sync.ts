/** `hubcache sync`: make the cache match hubcache.yaml and write each service's stable links. */
import type { Command } from 'commander';
import { HubcacheError } from '../../errors.js';
import { loadManifest } from '../../manifest/loadManifest.js';
import { resolveManifestCache } from '../../manifest/resolveManifestCache.js';
import type { SyncManifestResult, SyncModelResult, SyncServiceResult } from '../../manifest/syncManifest.js';
import { parsePositiveInt } from '../parsePositiveInt.js';
import { addCommonOptions, addNetworkOptions, runCommand, type CommonOptions } from '../context.js';
import { DownloadProgress } from '../downloadProgress.js';
import { formatBytes } from '../format.js';
import { collect } from '../collect.js';

interface SyncOptions extends CommonOptions {
  manifest?: string;
  service: string[];
  dryRun?: boolean;
  maxWorkers: string;
  concurrency: string;
}

export const MANIFEST_HELP = `
Manifest (hubcache.yaml; -f FILE, else $HUBCACHE_MANIFEST, else ./hubcache.yaml):
  hf_home: /data/.huggingface        # HF_HOME as the services see it (cache: <hf_home>/hub)
  # cache_dir: /data/.huggingface/hub  # or the hub cache itself
  services:
    llama-cpp:
      models:
        - repo: Qwen/Qwen3-VL-30B-A3B-Instruct-GGUF
          revision: main             # branch, tag or 40-hex commit (default main)
          files: [qwen3-vl-30b-a3b-instruct-q4_k_m.gguf]
          link: { name: model.gguf, env: MODEL_PATH }  # one file listed: links the file
    whisperx:
      models:
        - repo: openai/whisper-large-v3
          include: ["*.json", "*.safetensors"]         # or exclude: [...]
          link: { name: whisper, env: WHISPER_MODEL_DIR } # links the snapshot folder
  Model keys: repo, repo_type (model|dataset|space), revision, files | include/exclude,
  link or links (each: name, path (file or folder in the snapshot), env). Keys starting
  with "x-" are ignored. Relative hf_home/cache_dir are relative to the manifest's folder.

Cache: --cache-dir, else the manifest's cache_dir/hf_home, else HF_HUB_CACHE/HF_HOME.
Links: <HF_HOME>/links/<service>/<name>, relative symlinks swapped atomically when the
revision moves; HF_HOME is the parent of the cache folder when only that is known.`;

export function registerSyncCommand(program: Command): void {
  const cmd = program
    .command('sync')
    .description('download what hubcache.yaml needs (if missing), point each service\'s stable links at it; exit 1 if a service is incomplete')
    .option('-f, --manifest <file>', 'the manifest (default: $HUBCACHE_MANIFEST, else ./hubcache.yaml)')
    .option('-s, --service <name>', 'only this service (repeatable)', collect, [])
    .option('-n, --dry-run', 'show what would be downloaded and linked; change nothing')
    .option('--max-workers <n>', 'files of one model downloaded in parallel', '8')
    .option('--concurrency <n>', 'models synced in parallel', '4');
  addNetworkOptions(addCommonOptions(cmd)).addHelpText(
    'after',
    `
Idempotent: present files cost at most a metadata request; a second run downloads nothing.
A model that fails keeps its old link, so its service keeps the revision it had.
Exit codes: 0 every service complete, 1 a service is incomplete (named in the report), 2 bad manifest.
${MANIFEST_HELP}

Examples:
  $ hubcache sync
  $ hubcache sync -f /config/hubcache.yaml --service llama-cpp
  $ hubcache sync --dry-run
  $ hubcache sync --offline --json        # from the cache only; links still written
  $ hubcache sync --cache-dir /var/lib/docker/volumes/hf-cache/_data/.huggingface/hub`,
  );
  cmd.action(
    runCommand(async (ctx, options: SyncOptions) => {
      const { config, out } = ctx;
      const manifest = await loadManifest({ path: options.manifest, envPath: config.manifestPath, required: true });
      const cache = resolveManifestCache({ manifest, config, cacheDirFlag: options.cacheDir });
      const maxWorkers = parsePositiveInt({ text: options.maxWorkers, name: '--max-workers', max: 256 });
      const concurrency = parsePositiveInt({ text: options.concurrency, name: '--concurrency', max: 256 });
      const { syncManifest } = await import('../../manifest/syncManifest.js');
      const progress = new DownloadProgress(out);
      const planned = new Map<string, Array<{ path: string; size: number | undefined }>>();
      const controller = new AbortController();
      const onSignal = (): void => controller.abort(new HubcacheError({ code: 'E_ABORTED', message: 'Interrupted; partial downloads are kept and resume next time, links were not changed' }));
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      out.info(`${options.dryRun ? 'Checking' : 'Syncing'} ${manifest.displayPath} into ${cache.cacheDir}${config.offline ? ' (offline)' : ''}`);
      const started = Date.now();
      let result: SyncManifestResult;
      try {
        result = await syncManifest({
          manifest,
          cacheDir: cache.cacheDir,
          hfHome: cache.hfHome,
          endpoint: config.endpoint,
          token: config.token,
          offline: config.offline,
          services: options.service,
          dryRun: options.dryRun === true,
          maxWorkers,
          concurrency,
          signal: controller.signal,
          onPlan: (plan) => {
            // One progress display for every model: the total grows as each model's file list arrives.
            planned.set(plan.model, plan.files);
            progress.plan({ files: [...planned.values()].flat() });
          },
          onEvent: progress.onEvent,
        });
      } finally {
        progress.finish();
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
      out.result({ data: result, text: reportLines({ out, result, seconds: (Date.now() - started) / 1000 }) });
      return result.ok ? 0 : 1;
    }),
  );
}

function serviceState(service: SyncServiceResult): string {
  if (service.ok) return 'ok';
  return service.models.some((m) => m.status === 'failed') ? 'FAILED' : 'INCOMPLETE';
}

function reportLines(params: { out: import('../output.js').Output; result: SyncManifestResult; seconds: number }): string[] {
  const { out, result } = params;
  const dry = result.dryRun;
  const lines = out.table({
    rows: result.services,
    columns: [
      { header: 'SERVICE', value: (s) => s.name },
      { header: 'STATUS', value: (s) => serviceState(s) },
      { header: 'MODELS', value: (s) => `${s.models.filter((m) => m.status === 'ok').length}/${s.models.length}`, align: 'right' },
      { header: dry ? 'TO DOWNLOAD' : 'DOWNLOADED', value: (s) => downloadedText({ models: s.models, dry }), align: 'right' },
      { header: 'LINKS', value: (s) => linksText({ models: s.models }) },
    ],
  });
  const details: string[] = [];
  for (const service of result.services) {
    for (const model of service.models) {
      const where = `${service.name}: ${model.repo}@${model.revision}${model.commit ? ` (${model.commit.slice(0, 12)})` : ''}`;
      if (model.status !== 'ok') {
        details.push(`${where}: ${model.status}${model.missing.length > 0 ? ` - missing ${model.missing.join(', ')}` : ''}`);
        if (model.error) details.push(`    ${model.error.message}${model.error.hint ? `\n    hint: ${model.error.hint}` : ''}`);
      }
      if (dry) for (const file of model.wouldDownload) details.push(`${where}: would download ${file.path}${file.size !== undefined ? ` (${formatBytes(file.size)})` : ''}`);
      for (const link of model.links) {
        if (link.change === 'updated' || link.change === 'would-update' || link.change === 'created' || link.change === 'would-create') {
          details.push(`${where}: link ${service.name}/${link.name} ${link.change.replace('-', ' ')} -> ${link.target ?? ''}`);
        }
      }
    }
    for (const stale of service.staleLinks) details.push(`${service.name}: ${dry ? 'would remove' : 'removed'} undeclared link ${stale}`);
  }
  if (details.length > 0) lines.push('', ...details);
  if (result.unusedRepos.length > 0) {
    lines.push('', `Not used by any service (kept; \`hubcache rm REPO\` removes one): ${result.unusedRepos.join(', ')}`);
  }
  const incomplete = result.services.filter((s) => !s.ok).map((s) => s.name);
  const files = result.services.flatMap((s) => s.models).reduce((n, m) => n + m.downloaded, 0);
  lines.push(
    '',
    incomplete.length > 0
      ? `INCOMPLETE: ${incomplete.join(', ')} (${incomplete.length} of ${result.services.length} service(s)); see above`
      : dry
        ? `Dry run: ${result.services.length} service(s) would be complete; ${files} file(s) to download; nothing was changed`
        : `${result.services.length} service(s) complete; downloaded ${formatBytes(result.bytesDownloaded)} in ${params.seconds.toFixed(1)}s; links in ${result.linksDir}`,
  );
  return lines;
}

function downloadedText(params: { models: SyncModelResult[]; dry: boolean }): string {
  if (params.dry) {
    const files = params.models.flatMap((m) => m.wouldDownload);
    const bytes = files.reduce((n, f) => n + (f.size ?? 0), 0);
    return files.length === 0 ? '-' : `${files.length} file(s), ${formatBytes(bytes)}`;
  }
  const bytes = params.models.reduce((n, m) => n + m.bytesDownloaded, 0);
  return bytes === 0 ? '-' : formatBytes(bytes);
}

function linksText(params: { models: SyncModelResult[] }): string {
  const links = params.models.flatMap((m) => m.links);
  if (links.length === 0) return '-';
  return links.map((l) => `${l.name}${l.change === 'unchanged' || l.change === 'created' ? '' : ` (${l.change.replace('-', ' ')})`}`).join(', ');
}
