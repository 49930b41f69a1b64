/** `hubcache rm`: remove repos, revisions or single files; blobs still used by kept revisions stay. */
import type { Command } from 'commander';
import { planRm } from '../../maintenance/planRm.js';
import { parseRmTarget } from '../../maintenance/rmTarget.js';
import { manifestProtection } from '../../manifest/manifestProtection.js';
import { addCommonOptions, runCommand } from '../context.js';
import { addPlanOptions, runPlan, type PlanOptions } from '../planCommand.js';

export function registerRmCommand(program: Command): void {
  const cmd = program
    .command('rm')
    .description('remove repos, revisions or files from the cache (blobs shared with kept revisions stay)')
    .argument(
      '<targets...>',
      'org/name | dataset/org/name | models--org--name (a repo); org/name@REV (a revision: branch, tag or commit; a ref name removes the ref and its revision); org/name@REV:PATH (one file); a bare 40-hex commit (that revision in every repo)',
    )
    .option('--force', 'also remove revisions hubcache.yaml needs (they are kept otherwise)')
    .option('--manifest <file>', 'the manifest whose revisions are kept (default: $HUBCACHE_MANIFEST, else ./hubcache.yaml if present)');
  addPlanOptions(addCommonOptions(cmd)).addHelpText(
    'after',
    `
Removal order: refs, then snapshot links, then blobs no kept snapshot links to,
then empty folders; an interrupted run never leaves a link to a missing blob.

Examples:
  $ hubcache rm old-org/old-model --dry-run
  $ hubcache rm Qwen/Qwen3-0.6B@v1.0 --yes
  $ hubcache rm dataset/org/data@main:data/train.parquet
  $ hubcache rm 0123456789abcdef0123456789abcdef01234567 --json --yes`,
  );
  cmd.action(
    runCommand(async (ctx, targets: string[], options: PlanOptions & { force?: boolean; manifest?: string }) => {
      const parsed = targets.map((text) => parseRmTarget({ text }));
      const { pinned, note } = await manifestProtection({ pinned: new Set(), cacheDir: ctx.config.cacheDir, manifestPath: options.manifest ?? ctx.config.manifestPath, force: options.force === true });
      const plan = await planRm({ cacheDir: ctx.config.cacheDir, targets: parsed, pinned });
      if (note) plan.notes.push(note);
      return runPlan({ ctx, plan, options });
    }),
  );
}
