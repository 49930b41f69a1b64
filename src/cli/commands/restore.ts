/** `hubcache restore`: an archive (hubcache backup, or a plain tar/tar.gz of a cache or HF_HOME) into the cache, verified. */
import type { Command } from 'commander';
import { restoreCache, type RestoreReport } from '../../archive/restoreCache.js';
import { archiveProgress, bytesAndRate } from '../archiveProgress.js';
import { addCommonOptions, runCommand } from '../context.js';

interface RestoreOptions {
  dryRun?: boolean;
  force?: boolean;
}

export function registerRestoreCommand(program: Command): void {
  const cmd = program
    .command('restore')
    .description('restore an archive into the cache: every blob hashed and committed only if it matches its name')
    .argument('<in>', 'archive file (tar or tar.gz), or - for stdin')
    .argument('[repos...]', 'only these repos (org/name, dataset/org/name or models--org--name)')
    .option('-n, --dry-run', 'read and hash the whole archive, report what would be restored, write nothing')
    .option('--force', 'move refs that already point to another commit (otherwise they are kept, and said so)');
  addCommonOptions(cmd).addHelpText(
    'after',
    `
Reads archives written by \`hubcache backup\` (every entry must be in their
index) and plain tar or tar.gz files of a hub cache or HF_HOME, at any depth
(\`tar czf backup.tgz /data/hf\`). Blobs already in the cache are kept; links
are made with the same locked step as downloads; refs are merged. Refused, each
named: absolute paths, "..", links out of their repo's blobs, hard links,
devices, FIFOs, names over 4096 bytes, entries missing from the index, blobs
whose content does not match their name, and a cut-short stream (what was
complete before the cut stays). Exit 1 when anything was refused.

Examples:
  $ hubcache restore models.tar
  $ hubcache restore --dry-run models.tar Qwen/Qwen3-0.6B-GGUF
  $ hubcache restore old-volume.tgz --cache-dir /data/hf/hub
  $ ssh host hubcache backup - | hubcache restore -`,
  );
  cmd.action(
    runCommand(async ({ config, out }, input: string, repos: string[], options: RestoreOptions) => {
      const onProgress = archiveProgress({ out, label: options.dryRun ? 'checking' : 'restoring' });
      const report = await restoreCache({
        cacheDir: config.cacheDir,
        input: input === '-' ? process.stdin : input,
        repos,
        dryRun: options.dryRun === true,
        force: options.force === true,
        ...(onProgress ? { onProgress } : {}),
        onWarning: (message) => out.warn(message),
      });
      out.result({ data: { cacheDir: config.cacheDir, ...report }, text: reportLines(report) });
      return report.ok ? 0 : 1;
    }),
  );
}

function reportLines(report: RestoreReport): string[] {
  const lines: string[] = [];
  for (const p of report.problems) lines.push(`REFUSED ${p.code.padEnd(18)} ${p.message}`);
  for (const ref of report.refs) {
    if (ref.status === 'unchanged') continue;
    const what = { created: 'created', moved: `moved from ${ref.current?.slice(0, 12)}`, kept: `kept at ${ref.current?.slice(0, 12)} (archive: ${ref.commit.slice(0, 12)}; --force moves it)`, 'no-snapshot': 'not written (nothing of its commit restored)', unchanged: '' }[ref.status];
    lines.push(`ref     ${ref.repo} ${ref.ref} -> ${ref.commit.slice(0, 12)}: ${what}`);
  }
  const verb = report.dryRun ? 'would write' : 'wrote';
  lines.push(
    `${report.dryRun ? 'dry run: ' : ''}${report.format === 'hubcache-backup' ? 'hubcache backup' : 'plain tar'}${report.gzip ? ' (gzip)' : ''}: ` +
      `${report.repos.length} repo(s); blobs: ${verb} ${report.blobs.written}, kept ${report.blobs.present} already here, refused ${report.blobs.refused}; ` +
      `${report.links} link(s); ${bytesAndRate({ bytes: report.blobs.bytesWritten, seconds: report.seconds })}` +
      (report.problems.length > 0 ? `; ${report.problems.length} problem(s)` : ''),
  );
  return lines;
}
