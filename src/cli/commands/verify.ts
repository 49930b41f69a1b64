/** `hubcache verify`: re-hash blobs, check links and refs; `--fix` plans the repairs, asks, and runs them. */
import type { Command } from 'commander';
import { parseRepoSpec, repoFolderName } from '../../cache/repoId.js';
import { verifyCache, type VerifyReport } from '../../maintenance/verifyCache.js';
import { saveLastVerify } from '../../maintenance/lastVerify.js';
import { MAX_JOBS, parsePositiveInt } from '../parsePositiveInt.js';
import { addCommonOptions, runCommand } from '../context.js';
import { formatBytes } from '../format.js';
import { hashProgress } from '../hashProgress.js';
import { addPlanOptions, runPlan, type PlanOptions } from '../planCommand.js';
import { HubcacheError } from '../../errors.js';

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
    .option('--store <s3://bucket/prefix>', 'verify the blob objects of a shared store of `serve --store` replicas instead of the local cache (streamed, nothing written)');
  addPlanOptions(addCommonOptions(cmd)).addHelpText(
    'after',
    `
--fix works like rm/prune/gc: it prints its plan, asks on a terminal (-y/--yes
otherwise), and -n/--dry-run only shows it. It never removes folders the cache
layout does not define (e.g. a folder in snapshots/ that is no commit), nor
anything behind a linked folder or a linked blob's target: those are reported.

Examples:
  $ hubcache verify
  $ hubcache verify Qwen/Qwen3-0.6B --json
  $ hubcache verify --fix --dry-run
  $ hubcache verify --fix --yes   # then \`hubcache download\` refetches what was removed
  $ AWS_ENDPOINT_URL=http://10.0.0.5:7480 hubcache verify --store s3://models/mirror`,
  );
  cmd.action(
    runCommand(async (ctx, repos: string[], options: VerifyOptions) => {
      const { config, out } = ctx;
      if (options.store !== undefined) {
        if (options.fix) throw new HubcacheError({ code: 'E_USAGE', message: '--fix does not apply to --store yet: verify --store reports damaged objects (replicas never serve them)' });
        // Loaded here only: the AWS SDK behind them costs start-up time a local verify should not pay.
        const [{ verifyStore }, { openStore }, { verifyStoreLines }] = await Promise.all([
          import('../../store/verifyStore.js'),
          import('../openStore.js'),
          import('../storeReport.js'),
        ]);
        const conn = await openStore({ url: options.store, write: false });
        const jobs = options.jobs !== undefined ? parsePositiveInt({ text: options.jobs, name: '-j/--jobs', max: MAX_JOBS }) : undefined;
        const report = await verifyStore({ conn, ...(repos.length > 0 ? { repos: repos.map((spec) => parseRepoSpec({ spec })) } : {}), ...(jobs !== undefined ? { concurrency: jobs } : {}) });
        out.result({ data: report, text: verifyStoreLines({ report }) });
        return report.ok ? 0 : 1;
      }
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
