/**
 * Maintenance planning: `gc` and `prune` plans on 200 repos x 2 revisions x
 * 50 files (20k links; the older revision of each repo has no ref, so prune
 * has 200 revisions to plan), plus an unlinked blob and an abandoned partial
 * per repo. Measured in process (the library call) and as the whole
 * `--dry-run --json` process a user waits for (recorded; it adds node start-up
 * and printing a 15,000-item plan). Target: planning well under a second.
 */
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Bench } from './types.js';
import { buildSyntheticCache } from './syntheticCache.js';
import { median, timeProcess } from './measure.js';
import { planGc } from '../src/maintenance/planGc.js';
import { planPrune } from '../src/maintenance/planPrune.js';

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const TARGET_SECONDS = 1;

const bench: Bench = {
  name: 'maintenance',
  description: 'gc and prune planning on 200 repos x 2 revisions x 50 files',
  async run({ workDir, quick }) {
    const cacheDir = join(workDir, 'hub');
    const shape = { repos: quick ? 50 : 200, revisionsPerRepo: 2, filesPerRevision: 50 };
    const built = buildSyntheticCache({ cacheDir, ...shape });
    const old = new Date(Date.now() - 7 * 86400_000);
    for (let r = 0; r < shape.repos; r++) {
      const blobs = join(cacheDir, `models--bench-org--model-${r}`, 'blobs');
      mkdirSync(blobs, { recursive: true });
      for (const name of [`${'0'.repeat(63)}${r % 10}`, `${'1'.repeat(64)}.abcd1234.incomplete`]) {
        writeFileSync(join(blobs, name), 'x'.repeat(100));
        utimesSync(join(blobs, name), old, old);
      }
    }
    const rounds = quick ? 3 : 5;
    const gcTimes: number[] = [];
    const pruneTimes: number[] = [];
    // CPU time too: on a shared machine wall time also measures the neighbours.
    const gcCpu: number[] = [];
    const pruneCpu: number[] = [];
    const cpuSeconds = (since: NodeJS.CpuUsage): number => {
      const used = process.cpuUsage(since);
      return (used.user + used.system) / 1e6;
    };
    let gcItems = 0;
    let pruneItems = 0;
    let pruneRevisions = 0;
    for (let i = 0; i < rounds; i++) {
      let start = performance.now();
      let cpu = process.cpuUsage();
      const gc = await planGc({ cacheDir });
      gcTimes.push((performance.now() - start) / 1000);
      gcCpu.push(cpuSeconds(cpu));
      start = performance.now();
      cpu = process.cpuUsage();
      const prune = await planPrune({ cacheDir });
      pruneTimes.push((performance.now() - start) / 1000);
      pruneCpu.push(cpuSeconds(cpu));
      gcItems = gc.items.length;
      pruneItems = prune.items.length;
      pruneRevisions = prune.revisions.length;
    }
    const cli = async (command: string): Promise<number> => {
      const times: number[] = [];
      for (let i = 0; i < rounds; i++) {
        const run = await timeProcess({ command: process.execPath, args: [CLI, command, '--dry-run', '--json', '--cache-dir', cacheDir] });
        if (run.code !== 0) throw new Error(`${command} --dry-run failed (exit ${run.code}): ${run.stderr.slice(0, 2000)}`);
        times.push(run.seconds);
      }
      return median(times);
    };
    const gcCli = await cli('gc');
    const pruneCli = await cli('prune');
    const gcPlan = median(gcTimes);
    const prunePlan = median(pruneTimes);
    const correct = pruneRevisions === shape.repos && pruneItems > 0 && gcItems === shape.repos;
    return {
      bench: 'maintenance',
      description: this.description,
      measurements: [
        { name: `planGc in process (median of ${rounds})`, seconds: gcPlan },
        { name: `planPrune in process (median of ${rounds})`, seconds: prunePlan },
        { name: `planGc CPU time, user+system (median of ${rounds})`, seconds: median(gcCpu) },
        { name: `planPrune CPU time, user+system (median of ${rounds})`, seconds: median(pruneCpu) },
        { name: `hubcache gc --dry-run --json, whole process (median of ${rounds})`, seconds: gcCli },
        { name: `hubcache prune --dry-run --json, whole process (median of ${rounds})`, seconds: pruneCli },
        { name: 'links in the cache', value: built.links, unit: 'links' },
        { name: 'gc plan items (unlinked blobs)', value: gcItems, unit: 'items' },
        { name: 'prune plan items', value: pruneItems, unit: 'items' },
        { name: 'prune plan revisions', value: pruneRevisions, unit: 'revisions' },
      ],
      ratios: [
        { name: 'gc planning seconds, in process (correct plan)', value: gcPlan, target: `< ${TARGET_SECONDS}`, met: correct && gcPlan < TARGET_SECONDS },
        { name: 'prune planning seconds, in process (correct plan)', value: prunePlan, target: `< ${TARGET_SECONDS}`, met: correct && prunePlan < TARGET_SECONDS },
      ],
      notes: [`load average at the end: ${loadavg().map((l) => l.toFixed(1)).join(' ')} on ${cpus().length} cores`, `plans checked: ${shape.repos} unlinked blobs for gc, ${shape.repos} unreferenced revisions + partials for prune: ${correct}`],
    };
  },
};

export default bench;
