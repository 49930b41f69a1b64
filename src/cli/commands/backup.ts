/** `hubcache backup`: selected repos (or the whole cache) as a verified-on-restore tar stream. */
import { isAbsolute, relative, resolve } from 'node:path';
import type { Command } from 'commander';
import { backupCache } from '../../archive/backupCache.js';
import { HubcacheError } from '../../errors.js';
import { archiveProgress, bytesAndRate } from '../archiveProgress.js';
import { addCommonOptions, runCommand } from '../context.js';

interface BackupOptions {
  gzip?: boolean;
}

export function registerBackupCommand(program: Command): void {
  const cmd = program
    .command('backup')
    .description('write repos (blobs once each, snapshot links, refs, and an index first) as a tar archive')
    .argument('<out>', 'archive file to write, or - for stdout')
    .argument('[repos...]', 'only these repos, each optionally @REV (a ref or commit): org/name, org/name@main, dataset/org/name@<commit>')
    .option('--gzip', 'compress with gzip (off by default: model weights do not compress)');
  addCommonOptions(cmd).addHelpText(
    'after',
    `
The archive is a standard tar (pax): \`tar xf\` of it gives a valid hub cache.
Its first entry, .locks/.hubcache/backup-index.json, lists every repo, revision,
file, blob, size and hash; \`hubcache restore\` checks every entry against it and
every blob against its hash. Safe while the cache is in use: partial downloads
are never included, and a blob removed meanwhile is left out with its links.
A file OUT is written under a temp name and renamed when complete.

Examples:
  $ hubcache backup models.tar
  $ hubcache backup qwen.tar Qwen/Qwen3-0.6B-GGUF@main
  $ hubcache backup - org/model | ssh other-host hubcache restore -
  $ hubcache backup --gzip configs.tar.gz dataset/org/data`,
  );
  cmd.action(
    runCommand(async ({ config, out }, target: string, repos: string[], options: BackupOptions) => {
      const toStdout = target === '-';
      if (toStdout && process.stdout.isTTY) {
        throw new HubcacheError({ code: 'E_USAGE', message: 'Refusing to write an archive to a terminal', hint: 'Redirect stdout to a file or a pipe, or give a file name.' });
      }
      if (toStdout && out.json) throw new HubcacheError({ code: 'E_USAGE', message: '--json needs OUT to be a file (stdout carries the archive)' });
      if (!toStdout) {
        const rel = relative(resolve(config.cacheDir), resolve(target));
        if (rel === '' || (!rel.startsWith('..') && !isAbsolute(rel))) {
          throw new HubcacheError({ code: 'E_USAGE', message: `Refusing to write the archive inside the cache (${resolve(target)})`, hint: 'Write it outside the cache folder.' });
        }
      }
      const onProgress = archiveProgress({ out, label: 'backup' });
      const report = await backupCache({
        cacheDir: config.cacheDir,
        output: toStdout ? process.stdout : target,
        selection: repos,
        gzip: options.gzip === true,
        ...(onProgress ? { onProgress } : {}),
        onWarning: (message) => out.warn(message),
      });
      const summary = `${report.repos} repo(s), ${report.revisions} revision(s), ${report.files} file(s), ${report.blobs} blob(s): ${bytesAndRate({ bytes: report.bytes, seconds: report.seconds })}${toStdout ? '' : ` -> ${target}`}`;
      if (toStdout) out.info(summary);
      else out.result({ data: { output: resolve(target), ...report }, text: summary });
      return 0;
    }),
  );
}
