/** `hubcache doctor`: what breaks a cache shared by containers running as different users; `--fix` repairs. */
import type { Command } from 'commander';
import { doctorCache, type DoctorFinding, type DoctorReport } from '../../maintenance/doctorCache.js';
import { addCommonOptions, runCommand } from '../context.js';

interface DoctorOptions {
  fix?: boolean;
  group?: string;
  verbose?: boolean;
}

/** Per finding code, how many are printed before "... and N more" (all with --verbose or --json). */
const SHOWN_PER_CODE = 10;

export function registerDoctorCommand(program: Command): void {
  const cmd = program
    .command('doctor')
    .description('check group permissions, setgid, lock files, absolute links, copies of blobs, refs to missing snapshots, partial files and CACHEDIR.TAG')
    .option('--fix', 'apply the fixes and report what changed')
    .option('--group <name|gid>', 'the group the cache is shared with (default: the group of the cache root)')
    .option('-v, --verbose', 'list every finding, not the first few of each kind');
  addCommonOptions(cmd).addHelpText(
    'after',
    `
Links are never followed: modes and groups change only on files and folders
inside the cache root, never on a file hard-linked to a file outside it (reported
as hard-linked-outside). Exit 1 while problems remain.

Examples:
  $ hubcache doctor
  $ sudo hubcache doctor --fix --group hf
  $ hubcache doctor --json | jq '.findings[] | select(.code == "group-access")'`,
  );
  cmd.action(
    runCommand(async ({ config, out }, options: DoctorOptions) => {
      const report = await doctorCache({
        cacheDir: config.cacheDir,
        ...(options.group !== undefined ? { group: options.group } : {}),
        ...(options.fix ? { fix: true } : {}),
      });
      // After --fix, what is left is what matters (and proves the fixes took).
      const after = options.fix && report.changes.length > 0 ? await doctorCache({ cacheDir: config.cacheDir, ...(options.group !== undefined ? { group: options.group } : {}) }) : undefined;
      const remaining = (after ?? report).findings;
      const lines = findingLines({ report, verbose: options.verbose === true });
      for (const change of report.changes) lines.push(`FIXED  ${change.code.padEnd(24)} ${change.path}\n       ${change.action}`);
      for (const failure of report.failed) lines.push(`FAILED ${failure.code.padEnd(24)} ${failure.path}\n       ${failure.error}\n       run: ${failure.fix}`);
      const group = report.group.name ? `${report.group.name} (${report.group.gid})` : String(report.group.gid);
      lines.push(
        `${report.findings.length} finding(s) for shared group ${group} in ${report.cacheDir}` +
          (options.fix ? `; ${report.changes.length} fix(es) applied, ${report.failed.length} failed; ${remaining.length} finding(s) remain` : report.findings.some((f) => f.fixable) ? '; run with --fix to apply the fixable ones' : ''),
      );
      out.result({ data: { ...report, ...(after ? { remaining: after.findings } : {}) }, text: lines });
      return remaining.length === 0 ? 0 : 1;
    }),
  );
}

function findingLines(params: { report: DoctorReport; verbose: boolean }): string[] {
  const byCode = new Map<string, DoctorFinding[]>();
  // Grouped by pushing: copying the group per finding was quadratic (minutes on 100k findings).
  for (const f of params.report.findings) {
    const group = byCode.get(f.code);
    if (group) group.push(f);
    else byCode.set(f.code, [f]);
  }
  const lines: string[] = [];
  for (const [code, findings] of byCode) {
    const shown = params.verbose ? findings : findings.slice(0, SHOWN_PER_CODE);
    for (const f of shown) lines.push(`${f.fixable ? 'FIXABLE' : 'NOTE   '} ${code.padEnd(24)} ${f.path}\n        why: ${f.why}\n        fix: ${f.fix}`);
    if (shown.length < findings.length) lines.push(`        ... and ${findings.length - shown.length} more ${code} finding(s) (--verbose or --json lists them)`);
  }
  return lines;
}
