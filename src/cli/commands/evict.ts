/** `hubcache evict`: bring the cache under a size budget, least recently used revisions first. */
import type { Command } from 'commander';
import { HubcacheError } from '../../errors.js';
import { planEvict } from '../../maintenance/planEvict.js';
import { resolvePins } from '../../maintenance/resolvePins.js';
import { manifestProtection } from '../../manifest/manifestProtection.js';
import { addCommonOptions, runCommand } from '../context.js';
import { parseSize } from '../format.js';
import { collect } from '../collect.js';
import { addPlanOptions, runPlan, type PlanOptions } from '../planCommand.js';

interface EvictOptions extends PlanOptions {
  maxSize?: string;
  keep: string[];
  force?: boolean;
  manifest?: string;
}

export function registerEvictCommand(program: Command): void {
  const cmd = program
    .command('evict')
    .description('remove least-recently-used revisions until the cache fits --max-size; pinned revisions stay')
    .option('--max-size <size>', 'the budget, e.g. 50GB, 500MiB (required)')
    .option('--keep <repo[@rev]>', 'never evict this repo, or this revision (repeatable)', collect, [])
    .option('--force', 'also remove revisions hubcache.yaml needs (they are kept otherwise)')
    .option('--manifest <file>', 'the manifest whose revisions are kept (default: $HUBCACHE_MANIFEST, else ./hubcache.yaml if present)');
  addPlanOptions(addCommonOptions(cmd)).addHelpText(
    'after',
    `
"Used" is the newest of: blob access time, when the snapshot link was made, and
when hubcache last served or resolved a file of the revision (.hubcache/access/).
The size counts what revisions hold, each inode once; run gc and prune for the rest.
Exit 1 when the budget cannot be met without removing pinned revisions.

Examples:
  $ hubcache evict --max-size 200GB --dry-run
  $ hubcache evict --max-size 50GB --keep Qwen/Qwen3-VL-30B-A3B-Instruct-GGUF --yes
  $ hubcache evict --max-size 1TiB --keep org/model@v1.0 --json --yes`,
  );
  cmd.action(
    runCommand(async (ctx, options: EvictOptions) => {
      if (options.maxSize === undefined) {
        throw new HubcacheError({ code: 'E_USAGE', message: 'evict needs --max-size', hint: 'For example: hubcache evict --max-size 50GB --dry-run' });
      }
      const maxBytes = parseSize({ text: options.maxSize, what: '--max-size' });
      const keep = await resolvePins({ cacheDir: ctx.config.cacheDir, specs: options.keep });
      for (const spec of keep.unknown) ctx.out.warn(`--keep ${spec}: not in the cache, nothing to keep`);
      const { pinned, note } = await manifestProtection({ pinned: keep.pinned, cacheDir: ctx.config.cacheDir, manifestPath: options.manifest ?? ctx.config.manifestPath, force: options.force === true });
      const plan = await planEvict({ cacheDir: ctx.config.cacheDir, maxBytes, pinned });
      if (note) plan.notes.push(note);
      return runPlan({ ctx, plan, options });
    }),
  );
}
