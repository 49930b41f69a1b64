/** `hubcache gc`: unlinked blobs, empty folders, stale temp files, markers of removed revisions. */
import type { Command } from 'commander';
import { planGc } from '../../maintenance/planGc.js';
import { addCommonOptions, runCommand } from '../context.js';
import { parseDuration } from '../format.js';
import { addPlanOptions, runPlan, type PlanOptions } from '../planCommand.js';

interface GcOptions extends PlanOptions {
  minAge?: string;
}

export function registerGcCommand(program: Command): void {
  const cmd = program
    .command('gc')
    .description('remove blobs no snapshot links to, empty folders, stale temp files and .no_exist markers of removed revisions')
    .option('--min-age <duration>', 'leave alone what changed more recently than this (a running download may still use it)', '10m');
  addPlanOptions(addCommonOptions(cmd)).addHelpText(
    'after',
    `
Revisions are never removed by gc: see \`hubcache prune\` and \`hubcache evict\`.

Examples:
  $ hubcache gc --dry-run
  $ hubcache gc --yes
  $ hubcache gc --min-age 0s --yes --json`,
  );
  cmd.action(
    runCommand(async (ctx, options: GcOptions) => {
      const plan = await planGc({
        cacheDir: ctx.config.cacheDir,
        ...(options.minAge !== undefined ? { minAgeMs: parseDuration({ text: options.minAge }) } : {}),
      });
      return runPlan({ ctx, plan, options });
    }),
  );
}
