/** `hubcache verify`: re-hash blobs, check links and refs; `--fix` plans the repairs, asks, and runs them. */
import type { Command } from 'commander';
import { parseRepoSpec, repoFolderName } from '../../cache/repoId.js';
import { verifyCache, type VerifyReport } from '../../maintenance/verifyCache.js';
import { saveLastVerify } from '../../maintenance/lastVerify.js';
import { MAX_JOBS, parsePositiveInt } from '../parsePositiveInt.js';
import { addCommonOptions, runCommand } from '../context.js';
import { formatBytes } from '../format.js';
import { hashProgress } from '../hashProgress.js';
import { addPlanOptions, runPlan, runStorePlan, type PlanOptions } from '../planCommand.js';
import type { CommandContext } from '../context.js';

interface VerifyOptions extends PlanOptions {
  fix?: boolean;
  store?: string;
  jobs?: string;
}

export function registerVerifyCommand(program: Command): void {
  const cmd = program
    .command('verify')
    .description('re-hash every blob against its name, check snapshot links and refs; exit 1 on damage')
    .argument('[repos...]', 'only these repos (org/name, dataset/org/name or models--org--name)')
    .option('--fix', 'plan the repairs (damaged blobs and the links to them, broken links, bad refs, stray files; absolute links rewritten), show the plan, ask, run it')
    .option('-j, --jobs <n>', 'hashing threads (default: number of cores)')
    .option('--store <s3://bucket/prefix>', 'verify the blob objects of a shared store of `serve --store` replicas instead of the local cache (streamed; with --fix, damaged objects are planned for removal and refilled on the next request)');
  addPlanOptions(addCommonOptions(cmd)).addHelpText(
    'after',
    `
--fix works like rm/prune/gc: it prints its plan, asks on a terminal (-y/--yes
otherwise), and -n/--dry-run only shows it. It never removes folders the cache
layout does not define (e.g. a folder in snapshots/ that is no commit), nor
anything behind a linked folder or a linked blob's target: those are reported.
With --store, --fix removes only blob objects whose bytes do not hash to their
key, each only if it is still the object that was hashed (a replica may have
stored it again since); the next request through a replica fills it again.

Examples:
  $ hubcache verify
  $ hubcache verify Qwen/Qwen3-0.6B --json
  $ hubcache verify --fix --dry-run
  $ hubcache verify --fix --yes   # then \`hubcache download\` refetches what was removed
  $ AWS_ENDPOINT_URL=http://10.0.0.5:7480 hubcache verify --store s3://models/mirror
  $ hubcache verify --store s3://models/mirror --fix --dry-run`,
  );
  cmd.action(
    runCommand(async (ctx, repos: string[], options: VerifyOptions) => {
      const { config, out } = ctx;
      if (options.store !== undefined) return verifyStoreCommand({ ctx, repos, options, store: options.store });
      const folders = repos.length > 0 ? repos.map((spec) => repoFolderName(parseRepoSpec({ spec }))) : undefined;
      const onProgress = hashProgress({ out, label: 'verifying' });
      const concurrency = options.jobs !== undefined ? parsePositiveInt({ text: options.jobs, name: '-j/--jobs', max: MAX_JOBS }) : undefined;
      const started = Date.now();
      const { fixPlan, ...report } = await verifyCache({
        cacheDir: config.cacheDir,
        ...(folders ? { repos: folders } : {}),
        ...(options.fix ? { planFix: true } : {}),
        ...(concurrency !== undefined ? { concurrency } : {}),
        ...(onProgress ? { onProgress } : {}),
      });
      // Remembered for the dashboard's "last verify" (best effort).
      await saveLastVerify({ cacheDir: config.cacheDir, report, repos: folders, ms: Date.now() - started });
      const text = reportLines({ report, fix: options.fix === true });
      if (!fixPlan) {
        out.result({ data: report, text });
        return report.ok ? 0 : 1;
      }
      let ranOk: boolean | undefined;
      const code = await runPlan({
        ctx,
        plan: fixPlan,
        options,
        report: {
          data: { ...report },
          text,
          after: async () => {
            // Prove the repair: the cache must now verify clean (only the repos asked for).
            const after = await verifyCache({ cacheDir: config.cacheDir, ...(folders ? { repos: folders } : {}) });
            ranOk = after.ok;
            const left = after.findings.filter((f) => f.severity === 'error');
            return {
              ok: after.ok,
              data: { afterFix: { ok: after.ok, findings: after.findings } },
              text: after.ok ? ['after --fix: cache verifies clean'] : [`after --fix: ${left.length} problem(s) remain:`, ...left.map((f) => `  ${f.code} ${f.path}`)],
            };
          },
        },
      });
      // Nothing ran (dry run, nothing fixable): the damage found is the answer.
      return Math.max(code, (ranOk ?? report.ok) ? 0 : 1);
    }),
  );
}

/** `verify --store [--fix]`. Its modules (and the AWS SDK behind them) load only here: a local verify does not pay for them. */
async function verifyStoreCommand(params: { ctx: CommandContext; repos: string[]; options: VerifyOptions; store: string }): Promise<number> {
  const { ctx, repos, options } = params;
  const { out } = ctx;
  const [{ verifyStore }, { openStore }, { verifyStoreLines }, { planStoreFix }, { runStoreFix }] = await Promise.all([
    import('../../store/verifyStore.js'),
    import('../openStore.js'),
    import('../storeReport.js'),
    import('../../store/planStoreFix.js'),
    import('../../store/runStoreFix.js'),
  ]);
  // --fix deletes objects: open it as a writer (a store that refuses writes says so now).
  const conn = await openStore({ url: params.store, write: options.fix === true });
  const jobs = options.jobs !== undefined ? parsePositiveInt({ text: options.jobs, name: '-j/--jobs', max: MAX_JOBS }) : undefined;
  const verify = () =>
    verifyStore({ conn, ...(repos.length > 0 ? { repos: repos.map((spec) => parseRepoSpec({ spec })) } : {}), ...(jobs !== undefined ? { concurrency: jobs } : {}) });
  const report = await verify();
  const text = verifyStoreLines({ report, fix: options.fix === true });
  if (!options.fix) {
    out.result({ data: report, text });
    return report.ok ? 0 : 1;
  }
  let ranOk: boolean | undefined;
  const plan = planStoreFix({ report });
  const code = await runStorePlan({
    ctx,
    plan,
    options,
    report: { data: { ...report }, text },
    run: ({ onStep }) => runStoreFix({ conn, plan, onStep }),
    after: async () => {
      // Prove the repair: the store must now verify clean (objects removed are no damage: refilled on request).
      const again = await verify();
      ranOk = again.ok;
      const left = again.findings.filter((f) => f.code !== 'FILE_BLOB_MISSING');
      return {
        ok: again.ok,
        data: { afterFix: { ok: again.ok, findings: again.findings } },
        text: again.ok ? ['after --fix: the store verifies clean'] : [`after --fix: ${left.length} problem(s) remain:`, ...left.map((f) => `  ${f.code} ${f.key}`)],
      };
    },
  });
  // Nothing ran (dry run, nothing removable): the damage found is the answer.
  return Math.max(code, (ranOk ?? report.ok) ? 0 : 1);
}

function reportLines(params: { report: VerifyReport; fix: boolean }): string[] {
  const { report } = params;
  const errors = report.findings.filter((f) => f.severity === 'error');
  const lines: string[] = [];
  for (const f of report.findings) lines.push(`${f.severity === 'error' ? 'DAMAGE' : 'note  '} ${f.code.padEnd(20)} ${f.path}\n       ${f.message}`);
  lines.push(
    `${report.reposChecked} repo(s), ${report.blobsChecked} blob(s), ${formatBytes(report.bytesHashed)} hashed: ` +
      (errors.length === 0 ? 'no damage found' : `${errors.length} problem(s)${params.fix ? '' : ' (run with --fix to plan the repairs)'}`),
  );
  return lines;
}
