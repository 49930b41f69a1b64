/** `hubcache push REPO... --store s3://...`: chosen repos of the local cache into a shared store. */
import type { Command } from 'commander';
import { parseRepoSpec } from '../../cache/repoId.js';
import { HubcacheError } from '../../errors.js';
import { addCommonOptions, runCommand } from '../context.js';
import { formatBytes } from '../format.js';

export function registerPushCommand(program: Command): void {
  const cmd = program
    .command('push')
    .description('copy chosen repos (every cached revision) from the local cache into the shared store of `serve --store` replicas')
    .argument('<repos...>', 'repo ids, e.g. Qwen/Qwen3-0.6B or dataset/org/name')
    .requiredOption('--store <s3://bucket/prefix>', 'the shared store (endpoint and credentials from AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, ...)');
  addCommonOptions(cmd).addHelpText(
    'after',
    `
Each blob the store lacks is uploaded hashed: it becomes visible only when its hash is its
name (a damaged local blob is refused; \`hubcache verify --fix\` repairs it). Then the file
records and refs that let replicas and \`pull\` find it by commit and branch.

Examples:
  $ AWS_ENDPOINT_URL=http://10.0.0.5:7480 hubcache push Qwen/Qwen3-0.6B --store s3://models/mirror
  $ hubcache push org/a dataset/org/b --store s3://models/mirror --json`,
  );
  cmd.action(
    runCommand(async ({ config, out }, repos: string[], options: { store: string }) => {
      // Loaded here only: the AWS SDK behind them costs start-up time other commands should not pay.
      const [{ pushToStore }, { openStore }] = await Promise.all([import('../../store/pushToStore.js'), import('../openStore.js')]);
      const conn = await openStore({ url: options.store, write: true });
      const refs = repos.map((spec) => parseRepoSpec({ spec }));
      if (refs.length === 0) throw new HubcacheError({ code: 'E_USAGE', message: 'name at least one repo to push' });
      const result = await pushToStore({
        conn,
        cacheDir: config.cacheDir,
        repos: refs,
        onFile: (f) => out.info(`${f.uploaded ? 'pushed ' : 'present'} ${f.repo} ${f.path} (${formatBytes(f.size)})`),
      });
      out.result({
        data: result,
        text: `${result.files} file(s): ${result.blobsUploaded} blob(s) uploaded (${formatBytes(result.bytesUploaded)}), ${result.blobsAlreadyThere} already in ${conn.describe}; ${result.refs} ref(s)`,
      });
      return 0;
    }),
  );
}
