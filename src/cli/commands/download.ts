/** `hubcache download`: download-if-missing, print the local path. */
import type { Command } from 'commander';
import { HubcacheError } from '../../errors.js';
import { parseRepoSpec, parseRepoType, formatRepoRef } from '../../cache/repoId.js';
import { validateRepoFilePath } from '../../cache/repoFilePath.js';
import { quoteInput } from '../../quoteInput.js';
import { parsePositiveInt } from '../parsePositiveInt.js';
import { addCommonOptions, addNetworkOptions, runCommand } from '../context.js';
import { DownloadProgress } from '../downloadProgress.js';
import { formatBytes } from '../format.js';
import { collect } from '../collect.js';

interface DownloadOptions {
  revision?: string;
  repoType?: string;
  include: string[];
  exclude: string[];
  maxWorkers: string;
  connections?: string;
  timeout: string;
  retries: string;
}

export function registerDownloadCommand(program: Command): void {
  const cmd = program
    .command('download')
    .description('download files of a repo into the cache if missing; print the local path (file for one file, snapshot folder otherwise)')
    .argument('<repo>', 'repo id, e.g. Qwen/Qwen3-0.6B-GGUF (or dataset/org/name)')
    .argument('[files...]', 'files to download (default: the whole repo, filtered by --include/--exclude)')
    .option('-r, --revision <rev>', 'branch, tag or commit (default: main)')
    .option('--repo-type <type>', 'model | dataset | space')
    .option('--include <glob>', 'only files matching (repeatable; fnmatch, "*" crosses "/")', collect, [])
    .option('--exclude <glob>', 'skip files matching (repeatable)', collect, [])
    .option('--max-workers <n>', 'files downloaded in parallel', '8')
    .option('--connections <n>', 'parallel ranged streams per big file, for slow links (default 1; one per 64 MiB at most)')
    .option('--timeout <seconds>', 'a transfer silent this long counts as stalled and is retried', '30')
    .option('--retries <n>', 'retries after failures in a row without progress', '5');
  addNetworkOptions(addCommonOptions(cmd)).addHelpText(
    'after',
    `
Examples:
  $ hubcache download Qwen/Qwen3-0.6B-GGUF Qwen3-0.6B-Q8_0.gguf
  $ MODEL=$(hubcache download -q org/model model.gguf) && llama-server -m "$MODEL"
  $ hubcache download openai/whisper-large-v3 --include '*.json' --include '*.safetensors'
  $ HF_HUB_OFFLINE=1 hubcache download org/model config.json     # cache only
  $ HF_ENDPOINT=http://mirror:8090 hubcache download dataset/org/data --revision v1.0

One call downloads from one commit: a branch or tag is resolved once, and its ref is
written only after the snapshot holds every file.
Exit codes: 0 every printed path is in place; 1 failed, including E_ENTRY_NOT_FOUND when
--include/--exclude match no file (nothing is written) and E_NOT_CACHED when another
process (a cleanup) removed a file again right after it was fetched a second time;
2 usage error.`,
  );
  cmd.action(
    runCommand(async ({ config, out }, repo: string, files: string[], options: DownloadOptions) => {
      const ref = parseRepoSpec({ spec: repo, ...(options.repoType ? { defaultType: parseRepoType({ value: options.repoType }) } : {}) });
      for (const file of files) validateRepoFilePath({ path: file });
      const maxWorkers = parsePositiveInt({ text: options.maxWorkers, name: '--max-workers', max: 256 });
      const connections = options.connections !== undefined ? parsePositiveInt({ text: options.connections, name: '--connections', max: 256 }) : undefined;
      const timeoutSeconds = Number(options.timeout);
      if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0) throw new HubcacheError({ code: 'E_USAGE', message: `--timeout must be a positive number of seconds, got ${quoteInput(options.timeout)}` });
      const retries = Number(options.retries);
      if (!Number.isInteger(retries) || retries < 0 || retries > 100) throw new HubcacheError({ code: 'E_USAGE', message: `--retries must be a whole number from 0 to 100, got ${quoteInput(options.retries)}` });
      const { downloadFile } = await import('../../download/downloadFile.js');
      const { downloadRepo } = await import('../../download/downloadRepo.js');
      const progress = new DownloadProgress(out);
      const controller = new AbortController();
      const onSignal = (): void => controller.abort(new HubcacheError({ code: 'E_ABORTED', message: 'Interrupted; the partial download is kept and resumes next time' }));
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      const common = {
        ...ref,
        cacheDir: config.cacheDir,
        endpoint: config.endpoint,
        token: config.token,
        offline: config.offline,
        // `-r ""` is a mistake (an unset variable), not "main": validateRevision refuses it.
        ...(options.revision !== undefined ? { revision: options.revision } : {}),
        ...(connections !== undefined ? { connections } : {}),
        stallTimeoutMs: timeoutSeconds * 1000,
        metadataTimeoutMs: config.metadataTimeoutMs,
        retries,
        signal: controller.signal,
        onEvent: progress.onEvent,
      };
      const started = Date.now();
      try {
        if (files.length === 1) {
          const result = await downloadFile({ ...common, path: files[0] as string });
          progress.finish();
          out.result({ data: { ...ref, ...result }, text: result.path });
          if (!result.fromCache) out.info(`downloaded ${formatBytes(result.bytesDownloaded)} in ${((Date.now() - started) / 1000).toFixed(1)}s`);
          return 0;
        }
        const result = await downloadRepo({
          ...common,
          ...(files.length > 0 ? { files } : {}),
          include: options.include,
          exclude: options.exclude,
          maxWorkers,
          onPlan: (plan) => progress.plan(plan),
        });
        progress.finish();
        const fetched = result.files.filter((f) => !f.fromCache).length;
        out.result({ data: { ...ref, ...result }, text: result.path });
        out.info(
          `${formatRepoRef(ref)}@${result.commit.slice(0, 12)}: ${result.files.length} file(s), ${fetched} downloaded (${formatBytes(result.bytesDownloaded)}) in ${((Date.now() - started) / 1000).toFixed(1)}s`,
        );
        return 0;
      } finally {
        progress.finish();
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    }),
  );
}
