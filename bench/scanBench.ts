/**
 * Scan: `hubcache ls --json` vs Python huggingface_hub's `scan_cache_dir`
 * (what `hf cache ls` runs) and @huggingface/hub's `scanCacheDir`, each a
 * whole process as a user waits for it, on 200 repos x 2 revisions x 50 files
 * (20k links, a fifth in subfolders, 49 of 50 blobs shared between the two
 * revisions). Also times the CLI's start-up (`--version` vs `node -e 0`).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Bench, BenchMeasurement, BenchRatio } from './types.js';
import { buildSyntheticCache } from './syntheticCache.js';
import { timeProcess } from './measure.js';
import { childEnv, loadNote, loadNow, rotatedRounds, spread, type Competitor } from './benchFiles.js';

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PYTHON = process.env.HUBCACHE_TEST_PYTHON ?? join(ROOT, '.venv-hub', 'bin', 'python');

interface Summary {
  repos: number;
  size: number;
  files: number;
}

const bench: Bench = {
  name: 'scan',
  description: 'ls --json vs Python scan_cache_dir and @huggingface/hub scanCacheDir on 200 repos x 2 revisions x 50 files',
  async run({ workDir, quick }) {
    const load = loadNow();
    const cacheDir = join(workDir, 'hub');
    const shape = { repos: quick ? 50 : 200, revisionsPerRepo: 2, filesPerRevision: 50, changedPerRevision: 1 };
    const built = buildSyntheticCache({ cacheDir, ...shape });
    const env = childEnv({});
    const process_ = (command: string, args: string[]): Competitor => ({ run: () => timeProcess({ command, args, env, cwd: ROOT }) });
    const competitors: Record<string, Competitor> = {
      hubcache: process_(process.execPath, [CLI, 'ls', '--json', '--cache-dir', cacheDir]),
      hfjs: process_(process.execPath, [join(ROOT, 'bench', 'hfjsScan.mjs'), cacheDir]),
    };
    const havePython = existsSync(PYTHON);
    if (havePython) competitors.python = process_(PYTHON, [join(ROOT, 'bench', 'pythonScan.py'), cacheDir]);
    const log = (line: string): void => void process.stdout.write(`${line}\n`);
    const runs = await rotatedRounds({ rounds: quick ? 3 : 9, warmup: true, competitors, log });
    const startup = await rotatedRounds({
      rounds: quick ? 5 : 15,
      competitors: { version: process_(process.execPath, [CLI, '--version']), bare: process_(process.execPath, ['-e', '0']) },
    });

    const ours = JSON.parse(runs.hubcache!.last.stdout) as { repos: Array<{ sizeOnDisk: number; nbFiles: number; revisions: Array<{ nbFiles: number }> }> };
    const ourLinks = ours.repos.reduce((s, r) => s + r.revisions.reduce((t, v) => t + v.nbFiles, 0), 0);
    const ourBlobs = ours.repos.reduce((s, r) => s + r.nbFiles, 0);
    const ourSize = ours.repos.reduce((s, r) => s + r.sizeOnDisk, 0);
    const correct = ourLinks === built.links && ours.repos.length === shape.repos && ourSize === built.bytes && ourBlobs === built.blobs;
    const hfjs = JSON.parse(runs.hfjs!.last.stdout) as Summary;
    const python = havePython ? (JSON.parse(runs.python!.last.stdout) as Summary) : undefined;
    const pythonAgrees = python !== undefined && python.repos === ours.repos.length && python.size === ourSize && python.files === ourBlobs;

    const measurements: BenchMeasurement[] = [
      { name: `hubcache ls --json (median of ${runs.hubcache!.all.length})`, seconds: runs.hubcache!.median },
      ...(havePython ? [{ name: `Python scan_cache_dir (median of ${runs.python!.all.length})`, seconds: runs.python!.median }] : []),
      { name: `@huggingface/hub scanCacheDir (median of ${runs.hfjs!.all.length})`, seconds: runs.hfjs!.median },
      { name: `node dist/cli/main.js --version (median of ${startup.version!.all.length})`, seconds: startup.version!.median },
      { name: `node -e 0 (median of ${startup.bare!.all.length})`, seconds: startup.bare!.median },
      { name: 'links in the cache', value: built.links, unit: 'links' },
      { name: 'unique blobs in the cache', value: built.blobs, unit: 'blobs' },
    ];
    const ratios: BenchRatio[] = [];
    if (python) {
      const ratio = runs.python!.median / runs.hubcache!.median;
      ratios.push({ name: 'scan_cache_dir time / hubcache time (same sizes)', value: correct && pythonAgrees ? ratio : 0, target: '>= 5', met: correct && pythonAgrees && ratio >= 5 });
    }
    const hfjsRatio = runs.hfjs!.median / runs.hubcache!.median;
    ratios.push({ name: 'scanCacheDir time / hubcache time (correct results)', value: correct ? hfjsRatio : 0, target: '>= 5', met: correct && hfjsRatio >= 5 });
    return {
      bench: 'scan',
      description: this.description,
      measurements,
      ratios,
      notes: [
        `hubcache: ${ours.repos.length} repos, ${ourLinks} links, ${ourBlobs} blobs, ${ourSize} bytes; built ${built.links} links, ${built.blobs} blobs, ${built.bytes} bytes: ${correct}`,
        python
          ? `Python: ${python.repos} repos, ${python.files} files (unique blobs), ${python.size} bytes: agrees with hubcache: ${pythonAgrees}`
          : `Python huggingface_hub not found at ${PYTHON} (run .ci/python-hub.sh): its row is left out`,
        `@huggingface/hub reports ${hfjs.files} of ${built.links} links (it skips files in subfolders)`,
        ...Object.entries({ ...runs, ...startup }).map(([name, r]) => `${name}: ${spread(r.all)}`),
        loadNote(load),
      ],
    };
  },
};

export default bench;
