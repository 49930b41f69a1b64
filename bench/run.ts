/**
 * `npm run bench`: runs every benchmark side by side with its competitor in
 * one process run, prints measurements and ratios, and writes
 * bench/results.json. `--only NAME` runs one; `--quick` uses smaller sizes.
 * Targets live here, never in unit tests.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import type { Bench, BenchResult } from './types.js';

const BENCHES: Array<() => Promise<{ default: Bench }>> = [
  () => import('./scanBench.js'),
  () => import('./downloadBench.js'),
  () => import('./downloadTlsBench.js'),
  () => import('./tlsReceiveBench.js'),
  () => import('./verifyBench.js'),
  () => import('./rssBench.js'),
  () => import('./maintenanceBench.js'),
  () => import('./serveBench.js'),
  () => import('./archiveBench.js'),
  () => import('./scaleOutBench.js'),

];

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;
  const quick = args.includes('--quick');
  const machine = `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB RAM, node ${process.version}`;
  process.stdout.write(`hubcache benchmarks on ${machine}\n\n`);
  const results: BenchResult[] = [];
  let failed = 0;
  for (const load of BENCHES) {
    const bench = (await load()).default;
    if (only && bench.name !== only) continue;
    const workDir = await mkdtemp(join(process.env.HUBCACHE_BENCH_DIR ?? tmpdir(), `bench-${bench.name}-`));
    try {
      process.stdout.write(`## ${bench.name}: ${bench.description}\n`);
      const result = await bench.run({ workDir, quick });
      results.push(result);
      for (const m of result.measurements) {
        const figure = m.seconds !== undefined ? `${m.seconds.toFixed(3)} s` : `${m.value} ${m.unit ?? ''}`;
        process.stdout.write(`  ${m.name.padEnd(56)} ${figure}\n`);
      }
      for (const r of result.ratios) {
        if (!r.met) failed += 1;
        process.stdout.write(`  ratio ${r.name.padEnd(50)} ${r.value.toFixed(2)}  (target ${r.target}) ${r.met ? 'MET' : 'NOT MET'}\n`);
      }
      for (const note of result.notes ?? []) process.stdout.write(`  note: ${note}\n`);
      process.stdout.write('\n');
    } finally {
      await rm(workDir, { recursive: true, force: true });
    }
  }
  await writeFile(join(import.meta.dirname ?? '.', 'results.json'), `${JSON.stringify({ machine, date: new Date().toISOString(), results }, null, 2)}\n`);
  process.stdout.write(failed === 0 ? 'all targets met\n' : `${failed} target(s) not met\n`);
}

await main();
