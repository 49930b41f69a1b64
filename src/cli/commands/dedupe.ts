/** `hubcache dedupe`: identical blobs held by several repos become hard links to one inode. */
import type { Command } from 'commander';
import { dedupeCache } from '../../maintenance/dedupeCache.js';
import { MAX_JOBS, parsePositiveInt } from '../parsePositiveInt.js';
import { addCommonOptions, runCommand } from '../context.js';
import { formatBytes } from '../format.js';
import { hashProgress } from '../hashProgress.js';

interface DedupeOptions {
  dryRun?: boolean;
  jobs?: string;
}

export function registerDedupeCommand(program: Command): void {
  const cmd = program
    .command('dedupe')
    .description('hard-link identical blobs (same etag, verified by hash) held by several repos; reports bytes saved')
    .option('-n, --dry-run', 'hash and report what would be linked; change nothing')
    .option('-j, --jobs <n>', 'hashing threads (default: number of cores)');
  addCommonOptions(cmd).addHelpText(
    'after',
    `
Every copy is hashed against its name before linking, and replaced by a link at
a temp name renamed over it, so blobs/<etag> is always a complete regular file.

Examples:
  $ hubcache dedupe --dry-run
  $ hubcache dedupe --json | jq .bytesSaved`,
  );
  cmd.action(
    runCommand(async ({ config, out }, options: DedupeOptions) => {
      const onProgress = hashProgress({ out, label: 'hashing' });
      const concurrency = options.jobs !== undefined ? parsePositiveInt({ text: options.jobs, name: '-j/--jobs', max: MAX_JOBS }) : undefined;
      const report = await dedupeCache({
        cacheDir: config.cacheDir,
        ...(options.dryRun ? { dryRun: true } : {}),
        ...(concurrency !== undefined ? { concurrency } : {}),
        ...(onProgress ? { onProgress } : {}),
      });
      const lines: string[] = [];
      if (report.groups.length > 0) {
        lines.push(
          ...out.table({
            rows: report.groups,
            columns: [
              { header: 'BLOB', value: (g) => g.name.slice(0, 16) },
              { header: 'SIZE', value: (g) => formatBytes(g.size), align: 'right' },
              { header: 'COPIES LINKED', value: (g) => String(g.linked.length), align: 'right' },
              { header: 'SAVED', value: (g) => formatBytes(g.bytesSaved), align: 'right' },
              { header: 'KEPT', value: (g) => g.keep },
            ],
          }),
        );
      }
      for (const s of report.skipped) lines.push(`skipped ${s.path}\n        ${s.why}`);
      lines.push(
        report.groups.length === 0
          ? `No duplicate blobs across repos (${formatBytes(report.bytesHashed)} hashed).`
          : `${options.dryRun ? 'Would save' : 'Saved'} ${formatBytes(report.bytesSaved)} by linking ${report.groups.reduce((s, g) => s + g.linked.length, 0)} copy(ies) in ${report.groups.length} group(s).${options.dryRun ? ' Dry run: nothing was changed.' : ''}`,
      );
      out.result({ data: report, text: lines });
      return 0;
    }),
  );
}
