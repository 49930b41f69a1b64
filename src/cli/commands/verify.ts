/** `hubcache verify`: re-hash blobs, check links and refs; `--fix` repairs. */
import type { Command } from 'commander';
import { parseRepoSpec, repoFolderName } from '../../cache/repoId.js';
import { verifyCache, type VerifyReport } from '../../maintenance/verifyCache.js';
import { MAX_JOBS, parsePositiveInt } from '../parsePositiveInt.js';
import { addCommonOptions, runCommand } from '../context.js';
import { formatBytes } from '../format.js';
import { hashProgress } from '../hashProgress.js';

interface VerifyOptions {
  fix?: boolean;
  jobs?: string;
}

export function registerVerifyCommand(program: Command): void {
  const cmd = program
    .command('verify')
    .description('re-hash every blob against its name, check snapshot links and refs; exit 1 on damage')
    .argument('[repos...]', 'only these repos (org/name, dataset/org/name or models--org--name)')
    .option('--fix', 'remove damaged blobs and the links to them, broken links and bad refs; rewrite absolute links')
    .option('-j, --jobs <n>', 'hashing threads (default: number of cores)');
  addCommonOptions(cmd).addHelpText(
    'after',
    `
Examples:
  $ hubcache verify
  $ hubcache verify Qwen/Qwen3-0.6B --json
  $ hubcache verify --fix        # then \`hubcache download\` refetches what was removed`,
  );
  cmd.action(
    runCommand(async ({ config, out }, repos: string[], options: VerifyOptions) => {
      const folders = repos.length > 0 ? repos.map((spec) => repoFolderName(parseRepoSpec({ spec }))) : undefined;
      const onProgress = hashProgress({ out, label: 'verifying' });
      const concurrency = options.jobs !== undefined ? parsePositiveInt({ text: options.jobs, name: '-j/--jobs', max: MAX_JOBS }) : undefined;
      const report = await verifyCache({
        cacheDir: config.cacheDir,
        ...(folders ? { repos: folders } : {}),
        ...(options.fix ? { fix: true } : {}),
        ...(concurrency !== undefined ? { concurrency } : {}),
        ...(onProgress ? { onProgress } : {}),
      });
      let after: VerifyReport | undefined;
      if (options.fix && report.actions.length > 0) {
        // Prove the repair: the cache must now verify clean (only the repos we touched need re-hashing).
        after = await verifyCache({ cacheDir: config.cacheDir, ...(folders ? { repos: folders } : {}) });
      }
      const errors = report.findings.filter((f) => f.severity === 'error');
      const lines: string[] = [];
      for (const f of report.findings) lines.push(`${f.severity === 'error' ? 'DAMAGE' : 'note  '} ${f.code.padEnd(20)} ${f.path}\n       ${f.message}`);
      for (const a of report.actions) lines.push(`FIXED  ${a.action.padEnd(20)} ${a.path}\n       ${a.reason}`);
      lines.push(
        `${report.reposChecked} repo(s), ${report.blobsChecked} blob(s), ${formatBytes(report.bytesHashed)} hashed: ` +
          (errors.length === 0 ? 'no damage found' : `${errors.length} problem(s)${options.fix ? `, ${report.actions.length} fix(es) applied` : ' (run with --fix to repair)'}`),
      );
      if (after) lines.push(after.ok ? 'after --fix: cache verifies clean' : `after --fix: ${after.findings.filter((f) => f.severity === 'error').length} problem(s) remain`);
      out.result({ data: { ...report, ...(after ? { afterFix: { ok: after.ok, findings: after.findings } } : {}) }, text: lines });
      if (after) return after.ok ? 0 : 1;
      return report.ok ? 0 : 1;
    }),
  );
}
