/** `hubcache prune`: revisions no ref points to, and partial downloads nobody is writing. */
import type { Command } from 'commander';
import { planPrune } from '../../maintenance/planPrune.js';
import { resolvePins } from '../../maintenance/resolvePins.js';
import { addCommonOptions, runCommand } from '../context.js';
import { parseDuration } from '../format.js';
import { addPlanOptions, collect, runPlan, type PlanOptions } from '../planCommand.js';

interface PruneOptions extends PlanOptions {
  keep: string[];
  minAge?: string;
}

export function registerPruneCommand(program: Command): void {
  const cmd = program
    .command('prune')
    .description('remove revisions no ref points to, and partial downloads (*.incomplete, *.downloadInProgress) no process holds a lock on')
    .option('--keep <repo[@rev]>', 'never remove this repo, or this revision (repeatable)', collect, [])
    .option('--min-age <duration>', 'keep unlocked partial downloads written more recently than this (llama.cpp does not lock)', '1h');
  addPlanOptions(addCommonOptions(cmd)).addHelpText(
    'after',
    `
Revisions downloaded by commit hash have no ref: pin the ones you use with --keep.

Examples:
  $ hubcache prune --dry-run
  $ hubcache prune --keep org/model@0123456789abcdef0123456789abcdef01234567 --yes
  $ hubcache prune --min-age 0s --yes --json`,
  );
  cmd.action(
    runCommand(async (ctx, options: PruneOptions) => {
      const { pinned, unknown } = await resolvePins({ cacheDir: ctx.config.cacheDir, specs: options.keep });
      for (const spec of unknown) ctx.out.warn(`--keep ${spec}: not in the cache, nothing to keep`);
      const plan = await planPrune({
        cacheDir: ctx.config.cacheDir,
        pinned,
        ...(options.minAge !== undefined ? { partialMinAgeMs: parseDuration({ text: options.minAge }) } : {}),
      });
      return runPlan({ ctx, plan, options });
    }),
  );
}
