/**
 * The destructive commands as users and scripts run them: real processes of
 * the built CLI (`npx tsc -p tsconfig.json` first), plans printed, --dry-run
 * and --json, refusal without a terminal or --yes, exit codes.
 */
import { PassThrough } from 'node:stream';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { confirm } from '../../src/cli/confirm.js';
import { isHubcacheError } from '../../src/errors.js';
import { buildSampleCache } from '../helpers/cacheBuilder.js';
import { runCli } from '../helpers/runCli.js';
import { makeTempDir } from '../helpers/tempDir.js';
import { diskBytes } from './cacheHealth.js';

const exists = (path: string): Promise<boolean> => access(path).then(() => true, () => false);

async function sample(): Promise<{ cacheDir: string; v1Snapshot: string }> {
  const built = await buildSampleCache({ cacheDir: join(await makeTempDir(), 'hub') });
  const model = built.repos[0]!;
  return { cacheDir: built.cacheDir, v1Snapshot: model.paths.snapshot(model.revisions[1]!.commit) };
}

function hubcache(cacheDir: string, ...args: string[]): ReturnType<typeof runCli> {
  return runCli({ args: [...args, '--cache-dir', cacheDir] });
}

describe('rm, prune, gc, evict on the command line', () => {
  it('prints the plan as a table and changes nothing with --dry-run', async () => {
    const { cacheDir, v1Snapshot } = await sample();
    const before = await diskBytes({ dir: cacheDir });
    const run = await hubcache(cacheDir, 'rm', 'org/model@v1.0', '--dry-run');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/WHAT\s+ITEMS\s+BYTES\s+WHY/);
    expect(run.stdout).toContain('org/model @ ');
    expect(run.stdout).toContain('Plan (rm):');
    expect(run.stderr).toContain('Dry run');
    expect(await exists(v1Snapshot)).toBe(true);
    expect(await diskBytes({ dir: cacheDir })).toBe(before);
    const json = await hubcache(cacheDir, 'rm', 'org/model@v1.0', '--dry-run', '--json');
    expect(json.json().plan.totals.bytes).toBeGreaterThan(0);
    expect(json.json().result).toBeNull();
  });

  it('refuses without a terminal or --yes (E_ABORTED, with a hint), and runs with --yes', async () => {
    const { cacheDir, v1Snapshot } = await sample();
    const refused = await hubcache(cacheDir, 'rm', 'org/model@v1.0', '--json');
    expect(refused.code).toBe(1);
    expect(refused.json().error.code).toBe('E_ABORTED');
    expect(refused.stderr).toContain('--yes');
    expect(await exists(v1Snapshot)).toBe(true);

    const before = await diskBytes({ dir: cacheDir });
    const done = await hubcache(cacheDir, 'rm', 'org/model@v1.0', '--yes', '--json');
    expect(done.code, done.stderr).toBe(0);
    const { plan, result } = done.json();
    expect(result.bytesFreed).toBe(plan.totals.bytes);
    expect(before - (await diskBytes({ dir: cacheDir }))).toBe(plan.totals.bytes);
    expect(await exists(v1Snapshot)).toBe(false);
    const verify = await hubcache(cacheDir, 'verify');
    expect(verify.code, verify.stdout).toBe(0);
  });

  it('exits 2 on bad targets and options, 1 on targets that are not cached', async () => {
    const { cacheDir } = await sample();
    for (const args of [['rm', 'org/name@a..b'], ['rm', 'org/model@main:../x'], ['rm', 'a/b/c/d'], ['evict'], ['evict', '--max-size', 'lots'], ['gc', '--min-age', 'soon']]) {
      const run = await hubcache(cacheDir, ...args, '--yes');
      expect(run.code, `${args.join(' ')}: ${run.stderr}`).toBe(2);
    }
    const missing = await hubcache(cacheDir, 'rm', 'org/absent', '--yes');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('not in the cache');
  });

  it('runs prune, gc and evict end to end, and says when the budget cannot be met', async () => {
    const { cacheDir } = await sample();
    const prune = await hubcache(cacheDir, 'prune', '--yes');
    expect(prune.code, prune.stderr).toBe(0);
    expect(prune.stdout).toContain('Nothing to remove.');
    const gc = await hubcache(cacheDir, 'gc', '--yes', '--min-age', '0s');
    expect(gc.code, gc.stderr).toBe(0);
    const unmet = await hubcache(cacheDir, 'evict', '--max-size', '1kB', '--keep', 'org/model', '--yes');
    expect(unmet.code).toBe(1);
    expect(unmet.stdout).toContain('OVER budget');
    expect(unmet.stdout).toContain('cannot be met');
    const evict = await hubcache(cacheDir, 'evict', '--max-size', '1kB', '--yes', '--json');
    expect(evict.code, evict.stderr).toBe(0);
    expect(evict.json().plan.budget.met).toBe(true);
    expect((await hubcache(cacheDir, 'verify')).code).toBe(0);
  });

  it('documents every command with examples', async () => {
    for (const command of ['rm', 'prune', 'gc', 'evict', 'doctor', 'dedupe']) {
      const help = await runCli({ args: [command, '--help'] });
      expect(help.code).toBe(0);
      expect(help.stdout).toContain('Examples:');
    }
  });
});

describe('confirm', () => {
  function tty(answer: string): PassThrough & { isTTY: boolean } {
    const input = Object.assign(new PassThrough(), { isTTY: true });
    setTimeout(() => input.write(answer), 10);
    return input;
  }

  it('asks on a terminal and accepts only yes', async () => {
    const output = new PassThrough();
    let asked = '';
    output.on('data', (d: Buffer) => (asked += d.toString()));
    expect(await confirm({ question: 'Remove 3 items?', yes: false, input: tty('y\n'), output })).toBe(true);
    expect(asked).toContain('Remove 3 items? [y/N]');
    expect(await confirm({ question: 'Remove?', yes: false, input: tty('\n'), output })).toBe(false);
    expect(await confirm({ question: 'Remove?', yes: false, input: tty('nope\n'), output })).toBe(false);
  });

  it('needs no terminal with --yes, and refuses without one', async () => {
    expect(await confirm({ question: 'q', yes: true, input: new PassThrough() })).toBe(true);
    const err = await confirm({ question: 'q', yes: false, input: new PassThrough() }).catch((e: unknown) => e);
    expect(isHubcacheError(err, 'E_ABORTED')).toBe(true);
  });
});
