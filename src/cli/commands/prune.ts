/** `hubcache prune`: revisions no ref points to, and partial downloads nobody is writing. */
import type { Command } from 'commander';
import { planPrune } from '../../maintenance/planPrune.js';
import { resolvePins } from '../../maintenance/resolvePins.js';
import { manifestProtection } from '../../manifest/manifestProtection.js';
import { addCommonOptions, runCommand } from '../context.js';
import { parseDuration } from '../format.js';
import { collect } from '../collect.js';
import { addPlanOptions, runPlan, type PlanOptions } from '../planCommand.js';

interface PruneOptions extends PlanOptions {
  keep: string[];
  minAge?: string;
  force?: boolean;
  manifest?: string;
}

export function registerPruneCommand(program: Command): void {
  const cmd = program
    .command('prune')
    .description('remove revisions no ref points to, and partial downloads (*.incomplete, *.downloadInProgress) no process holds a lock on')
    .option('--keep <repo[@rev]>', 'never remove this repo, or this revision (repeatable)', collect, [])
    .option('--min-age <duration>', 'keep unlocked partial downloads written more recently than this (llama.cpp does not lock)', '1h')
    .option('--force', 'also remove revisions hubcache.yaml needs (they are kept otherwise)')
    .option('--manifest <file>', 'the manifest whose revisions are kept (default: $HUBCACHE_MANIFEST, else ./hubcache.yaml if present)');
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
      const keep = await resolvePins({ cacheDir: ctx.config.cacheDir, specs: options.keep });
      for (const spec of keep.unknown) ctx.out.warn(`--keep ${spec}: not in the cache, nothing to keep`);
      const { pinned, note } = await manifestProtection({ pinned: keep.pinned, cacheDir: ctx.config.cacheDir, manifestPath: options.manifest ?? ctx.config.manifestPath, force: options.force === true });
      const plan = await planPrune({
        cacheDir: ctx.config.cacheDir,
        pinned,
        ...(options.minAge !== undefined ? { partialMinAgeMs: parseDuration({ text: options.minAge }) } : {}),
      });
      if (note) plan.notes.push(note);
      return runPlan({ ctx, plan, options });
    }),
  );
}
