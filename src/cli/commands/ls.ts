/** `hubcache ls`: what is in the cache, per repo or per revision. */
import type { Command } from 'commander';
import { scanCache, type CachedRepo, type CacheScan } from '../../cache/scanCache.js';
import { parseRepoFilter, sortRepos } from '../../cache/repoFilter.js';
import { formatRepoRef } from '../../cache/repoId.js';
import { addCommonOptions, runCommand, type CommandContext } from '../context.js';
import type { Output } from '../output.js';
import { formatAge, formatBytes } from '../format.js';
import { collect } from '../collect.js';

export interface LsOptions {
  revisions?: boolean;
  files?: boolean;
  sort: string;
  filter: string[];
  manifest?: string;
  store?: string;
}

export function registerLsCommand(program: Command): void {
  const cmd = program
    .command('ls')
    .description('list cached repos with their size on disk, revisions, refs and problems')
    .option('--revisions', 'one row per revision instead of per repo')
    .option('--files', 'also list every file of every revision (in --json: revisions[].files)')
    .option('--sort <key>', 'size | accessed | modified | name (add :asc or :desc)', 'name')
    .option('--filter <expr>', 'keep repos matching EXPR (repeatable, all must match): size>1GB, accessed>30d, modified<7d, type=dataset, name~qwen, ref=main, incomplete, warnings', collect, [])
    .option('--store <s3://bucket/prefix>', 'list what a shared store of `serve --store` replicas holds instead of the local cache')
    .option('-f, --manifest <file>', 'show which services of this manifest use each repo (default: $HUBCACHE_MANIFEST, else ./hubcache.yaml if present)');
  addCommonOptions(cmd).addHelpText(
    'after',
    `
Examples:
  $ hubcache ls --sort size
  $ hubcache ls --filter 'accessed>30d' --filter 'size>1GB'
  $ hubcache ls --revisions --json | jq '.repos[].revisions[].commit'
  $ hubcache ls -f hubcache.yaml          # SERVICES column; repos no service uses are listed
  $ AWS_ENDPOINT_URL=http://10.0.0.5:7480 hubcache ls --store s3://models/mirror`,
  );
  cmd.action(runCommand(async (ctx, options: LsOptions) => runLs(ctx, options)));
}

/** The command's work, once its options are parsed (by commander, or by main.ts's fast path: parseLsFastPath). */
export async function runLs({ config, out }: CommandContext, options: LsOptions): Promise<number> {
  if (options.store !== undefined) return lsStore({ out, url: options.store });
  const now = Date.now();
  const predicates = options.filter.map((expr) => parseRepoFilter({ expr }));
  const sortKey = options.sort;
  const scan = await scanCache({ cacheDir: config.cacheDir, detail: options.files ? 'files' : 'summary' });
  const repos = sortRepos({ repos: scan.repos.filter((r) => predicates.every((p) => p(r, now))), sort: sortKey });
  const warnings = [...scan.warnings, ...repos.flatMap((r) => r.warnings)];
  const services = await manifestServices({ out, path: options.manifest, envPath: config.manifestPath });
  if (!scan.exists) out.warn(`cache folder ${scan.cacheDir} does not exist yet`);
  out.result({
    data: toJson({ scan, repos, files: options.files === true, services }),
    text: [
      ...(options.revisions ? revisionTable({ out, repos, now }) : repoTable({ out, repos, now, scan, services })),
      ...(options.files ? ['', ...fileTable({ out, repos })] : []),
    ],
  });
  if (!out.json) {
    for (const w of warnings) out.warn(`${w.path}: ${w.message}`);
    if (warnings.length > 0) out.info(`${warnings.length} problem(s) found; \`hubcache verify\` checks contents, \`hubcache verify --fix\` repairs.`);
  }
  return 0;
}

/**
 * Which services of the manifest use each repo (folder name -> services), or
 * undefined without a manifest. A broken manifest only costs the column here:
 * listing the cache must keep working.
 */
async function manifestServices(params: { out: Output; path: string | undefined; envPath: string | undefined }): Promise<Map<string, string[]> | undefined> {
  const { loadManifest } = await import('../../manifest/loadManifest.js');
  const { servicesByRepo } = await import('../../manifest/servicesByRepo.js');
  try {
    const manifest = await loadManifest({ path: params.path, envPath: params.envPath, required: false });
    return manifest ? servicesByRepo({ manifest }) : undefined;
  } catch (err) {
    params.out.warn(`${(err as Error).message}; the SERVICES column is left out`);
    return undefined;
  }
}

function repoTable(params: { out: Output; repos: CachedRepo[]; now: number; scan: CacheScan; services: Map<string, string[]> | undefined }): string[] {
  const { repos, now, scan } = params;
  if (repos.length === 0) return [`No repos in ${scan.cacheDir}`];
  const lines = params.out.table({
    rows: repos,
    columns: [
      { header: 'REPO ID', value: (r) => r.repoId },
      { header: 'TYPE', value: (r) => r.repoType },
      { header: 'SIZE', value: (r) => formatBytes(r.sizeOnDisk), align: 'right' },
      { header: 'FILES', value: (r) => String(r.nbFiles), align: 'right' },
      { header: 'REVS', value: (r) => String(r.revisions.length), align: 'right' },
      { header: 'REFS', value: (r) => Object.keys(r.refs).join(',') },
      { header: 'ACCESSED', value: (r) => formatAge({ ms: r.lastAccessed, now }) },
      { header: 'MODIFIED', value: (r) => formatAge({ ms: r.lastModified, now }) },
      ...(params.services ? [{ header: 'SERVICES', value: (r: CachedRepo) => params.services?.get(r.folderName)?.join(',') ?? '-' }] : []),
      { header: 'NOTES', value: (r) => notes(r) },
    ],
  });
  const total = repos.reduce((s, r) => s + r.sizeOnDisk, 0);
  lines.push('', `${repos.length} repo(s), ${formatBytes(total)} on disk in ${scan.cacheDir}`);
  const unused = params.services ? repos.filter((r) => !params.services?.has(r.folderName)) : [];
  if (unused.length > 0) {
    lines.push(`${unused.length} repo(s), ${formatBytes(unused.reduce((s, r) => s + r.sizeOnDisk, 0))}, used by no service of the manifest: ${unused.map((r) => formatRepoRef(r)).join(', ')}`);
  }
  return lines;
}

function revisionTable(params: { out: Output; repos: CachedRepo[]; now: number }): string[] {
  const rows = params.repos.flatMap((repo) => repo.revisions.map((revision) => ({ repo, revision })));
  if (rows.length === 0) return ['No revisions cached'];
  return params.out.table({
    rows,
    columns: [
      { header: 'REPO ID', value: (r) => formatRepoRef(r.repo) },
      { header: 'REVISION', value: (r) => r.revision.commit },
      { header: 'SIZE', value: (r) => formatBytes(r.revision.sizeOnDisk), align: 'right' },
      { header: 'FILES', value: (r) => String(r.revision.nbFiles), align: 'right' },
      { header: 'REFS', value: (r) => r.revision.refs.join(',') },
      { header: 'MODIFIED', value: (r) => formatAge({ ms: r.revision.lastModified, now: params.now }) },
    ],
  });
}

/** One row per file of every revision: what `--files` adds to the table. */
function fileTable(params: { out: Output; repos: CachedRepo[] }): string[] {
  const rows = params.repos.flatMap((repo) => repo.revisions.flatMap((revision) => revision.files.map((file) => ({ repo, revision, file }))));
  if (rows.length === 0) return ['No files cached'];
  return params.out.table({
    rows,
    columns: [
      { header: 'REPO ID', value: (r) => formatRepoRef(r.repo) },
      { header: 'REVISION', value: (r) => r.revision.commit.slice(0, 12) },
      { header: 'SIZE', value: (r) => formatBytes(r.file.size), align: 'right' },
      { header: 'FILE', value: (r) => r.file.path },
      { header: 'NOTES', value: (r) => [r.file.layout === 'copy' ? 'copy' : '', r.file.problem ?? ''].filter(Boolean).join('; ') },
    ],
  });
}

function notes(repo: CachedRepo): string {
  const parts: string[] = [];
  if (repo.incomplete.files.length > 0) parts.push(`${repo.incomplete.files.length} partial (${formatBytes(repo.incomplete.bytes)})`);
  if (repo.orphanBlobs.count > 0) parts.push(`${repo.orphanBlobs.count} unused blob(s)`);
  if (repo.warnings.length > 0) parts.push(`${repo.warnings.length} problem(s)`);
  return parts.join('; ');
}

function iso(ms: number): string | null {
  return ms ? new Date(ms).toISOString() : null;
}

function toJson(params: { scan: CacheScan; repos: CachedRepo[]; files: boolean; services: Map<string, string[]> | undefined }): unknown {
  return {
    cacheDir: params.scan.cacheDir,
    exists: params.scan.exists,
    sizeOnDisk: params.repos.reduce((s, r) => s + r.sizeOnDisk, 0),
    repos: params.repos.map((repo) => ({
      repoId: repo.repoId,
      repoType: repo.repoType,
      folderName: repo.folderName,
      repoPath: repo.repoPath,
      sizeOnDisk: repo.sizeOnDisk,
      nbFiles: repo.nbFiles,
      refs: repo.refs,
      lastAccessed: iso(repo.lastAccessed),
      lastModified: iso(repo.lastModified),
      orphanBlobs: repo.orphanBlobs,
      incomplete: repo.incomplete,
      warnings: repo.warnings,
      ...(params.services ? { services: params.services.get(repo.folderName) ?? [] } : {}),
      revisions: repo.revisions.map((rev) => ({
        commit: rev.commit,
        refs: rev.refs,
        snapshotPath: rev.snapshotPath,
        sizeOnDisk: rev.sizeOnDisk,
        nbFiles: rev.nbFiles,
        lastModified: iso(rev.lastModified),
        ...(params.files
          ? {
              files: rev.files.map((f) => ({
                path: f.path,
                size: f.size,
                blob: f.blobName ?? null,
                layout: f.layout,
                ...(f.problem ? { problem: f.problem } : {}),
              })),
            }
          : {}),
      })),
    })),
    warnings: params.scan.warnings,
  };
}

/**
 * `ls --store`: the bucket's listing. Its modules (and the AWS SDK behind them) load only here, so a
 * plain `ls` does not pay for them at start-up.
 */
async function lsStore(params: { out: Output; url: string }): Promise<number> {
  const [{ listStore }, { openStore }, { storeListingLines }] = await Promise.all([
    import('../../store/listStore.js'),
    import('../openStore.js'),
    import('../storeReport.js'),
  ]);
  const listing = await listStore({ conn: await openStore({ url: params.url, write: false }) });
  params.out.result({ data: listing, text: storeListingLines({ out: params.out, listing }) });
  return 0;
}
