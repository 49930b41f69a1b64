/** `hubcache path`: the absolute snapshot path of a cached file, no network. */
import type { Command } from 'commander';
import { parseRepoSpec, parseRepoType, repoFolderName } from '../../cache/repoId.js';
import { recordAccess } from '../../cache/accessLog.js';
import { validateRepoFilePath } from '../../cache/repoFilePath.js';
import { resolveCachedFile } from '../../cache/resolveCachedFile.js';
import { addCommonOptions, runCommand } from '../context.js';

interface PathOptions {
  revision: string;
  repoType?: string;
}

export function registerPathCommand(program: Command): void {
  const cmd = program
    .command('path')
    .description('print the absolute path of a cached file (no network; exit 1 if not cached)')
    .argument('<repo>', 'repo id, e.g. Qwen/Qwen3-0.6B or dataset/org/name')
    .argument('<file>', 'file path inside the repo')
    .option('-r, --revision <rev>', 'branch, tag or commit', 'main')
    .option('--repo-type <type>', 'model | dataset | space');
  addCommonOptions(cmd).addHelpText(
    'after',
    `
Examples:
  $ hubcache path Qwen/Qwen3-0.6B-GGUF Qwen3-0.6B-Q8_0.gguf
  $ MODEL_PATH=$(hubcache path org/model model.gguf --revision v1.0)`,
  );
  cmd.action(
    runCommand(async ({ config, out }, repo: string, file: string, options: PathOptions) => {
      const ref = parseRepoSpec({ spec: repo, ...(options.repoType ? { defaultType: parseRepoType({ value: options.repoType }) } : {}) });
      validateRepoFilePath({ path: file });
      const found = await resolveCachedFile({ ...ref, cacheDir: config.cacheDir, revision: options.revision, path: file });
      await recordAccess({ cacheDir: config.cacheDir, repoFolder: repoFolderName(ref), commit: found.commit });
      out.result({ data: { ...ref, revision: options.revision, commit: found.commit, path: found.path, size: found.size }, text: found.path });
      return 0;
    }),
  );
}
