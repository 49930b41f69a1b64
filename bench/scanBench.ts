/**
 * Scan: `hubcache ls --json` vs a script calling @huggingface/hub's
 * scanCacheDir, whole process as a user waits for it, on 200 repos x 2
 * revisions x 50 files (20k links, a fifth in subfolders).
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Bench } from './types.js';
import { buildSyntheticCache } from './syntheticCache.js';
import { interleaved, timeProcess } from './measure.js';

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const ROOT = fileURLToPath(new URL('..', import.meta.url));

const bench: Bench = {
  name: 'scan',
  description: 'ls --json vs @huggingface/hub scanCacheDir on 200 repos x 2 revisions x 50 files',
  async run({ workDir, quick }) {
    const cacheDir = join(workDir, 'hub');
    const shape = { repos: quick ? 50 : 200, revisionsPerRepo: 2, filesPerRevision: 50 };
    const built = buildSyntheticCache({ cacheDir, ...shape });
    const script = join(ROOT, 'bench', 'hfjsScan.mjs');
    const runs = await interleaved({
      rounds: quick ? 3 : 7,
      runs: {
        hubcache: () => timeProcess({ command: process.execPath, args: [CLI, 'ls', '--json', '--cache-dir', cacheDir] }),
        hfjs: () => timeProcess({ command: process.execPath, args: [script, cacheDir], cwd: ROOT }),
      },
    });
    const ours = JSON.parse(runs.hubcache!.last.stdout) as { repos: Array<{ sizeOnDisk: number; revisions: Array<{ nbFiles: number }> }> };
    const ourFiles = ours.repos.reduce((s, r) => s + r.revisions.reduce((t, v) => t + v.nbFiles, 0), 0);
    const ourSize = ours.repos.reduce((s, r) => s + r.sizeOnDisk, 0);
    const theirs = JSON.parse(runs.hfjs!.last.stdout) as { repos: number; size: number; files: number };
    const correct = ourFiles === built.links && ours.repos.length === shape.repos && ourSize === built.bytes;
    const ratio = runs.hfjs!.median / runs.hubcache!.median;
    return {
      bench: 'scan',
      description: this.description,
      measurements: [
        { name: `hubcache ls --json (median of ${runs.hubcache!.all.length})`, seconds: runs.hubcache!.median },
        { name: `@huggingface/hub scanCacheDir script (median of ${runs.hfjs!.all.length})`, seconds: runs.hfjs!.median },
        { name: 'links in the cache', value: built.links, unit: 'links' },
        { name: 'files found by hubcache', value: ourFiles, unit: 'files' },
        { name: 'files found by @huggingface/hub', value: theirs.files, unit: 'files' },
      ],
      ratios: [{ name: 'scanCacheDir time / hubcache time (correct results)', value: correct ? ratio : 0, target: '>= 5', met: correct && ratio >= 5 }],
      notes: [
        `hubcache size ${ourSize} bytes = unique blobs ${built.bytes}: ${ourSize === built.bytes}`,
        `@huggingface/hub reports ${theirs.files} of ${built.links} files (it skips files in subfolders)`,
      ],
    };
  },
};

export default bench;
