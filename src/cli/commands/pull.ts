/** `hubcache pull REPO[@REV]... --store s3://...`: chosen repos from a shared store into the local cache. */
import type { Command } from 'commander';
import { parseRepoSpec } from '../../cache/repoId.js';
import { addCommonOptions, runCommand } from '../context.js';
import { formatBytes } from '../format.js';

export function registerPullCommand(program: Command): void {
  const cmd = program
    .command('pull')
    .description('fill the local cache with chosen repos from the shared store of `serve --store` replicas (no Hub needed)')
    .argument('<repos...>', 'repo ids, optionally @REVISION (branch or commit): Qwen/Qwen3-0.6B@main; without one, every commit the store holds')
    .requiredOption('--store <s3://bucket/prefix>', 'the shared store (endpoint and credentials from AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, ...)');
  addCommonOptions(cmd).addHelpText(
    'after',
    `
Every file is downloaded like \`hubcache download\` does (lock, hash check, atomic rename, snapshot
link, ref): an object whose hash is not its name is refused.

Examples:
  $ AWS_ENDPOINT_URL=http://10.0.0.5:7480 hubcache pull Qwen/Qwen3-0.6B@main --store s3://models/mirror
  $ hubcache pull org/a dataset/org/b --store s3://models/mirror --cache-dir /srv/hub`,
  );
  cmd.action(
    runCommand(async ({ config, out }, specs: string[], options: { store: string }) => {
      // Loaded here only: the AWS SDK behind them costs start-up time other commands should not pay.
      const [{ pullFromStore }, { openStore }] = await Promise.all([import('../../store/pullFromStore.js'), import('../openStore.js')]);
      const conn = await openStore({ url: options.store, write: false });
      const repos = specs.map((spec) => {
        const at = spec.lastIndexOf('@');
        const revision = at > 0 ? spec.slice(at + 1) : undefined;
        return { repo: parseRepoSpec({ spec: at > 0 ? spec.slice(0, at) : spec }), ...(revision ? { revision } : {}) };
      });
      const result = await pullFromStore({
        conn,
        cacheDir: config.cacheDir,
        repos,
        onFile: (f) => out.info(`${f.downloaded ? 'pulled ' : 'present'} ${f.repo} ${f.path} (${formatBytes(f.size)})`),
      });
      out.result({ data: result, text: `${result.files} file(s) in ${config.cacheDir}: ${formatBytes(result.bytesDownloaded)} downloaded, ${result.fromCache} already cached` });
      return 0;
    }),
  );
}
