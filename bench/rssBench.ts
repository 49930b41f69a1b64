/**
 * Peak RSS while downloading a 4 GiB file (issue 3): target < 150 MB.
 * The fixture is a sparse 4 GiB file (zeros: no disk and no generation cost on
 * the serving side; the downloader still receives, writes and hashes 4 GiB).
 * Peak RSS of the whole `hubcache download` process (main thread, hashing
 * worker, buffers) from GNU time's ru_maxrss, or VmHWM polling without it.
 * (@huggingface/hub's and curl's peaks on 1 GiB are in the download bench.)
 */
import { mkdir, open, realpath, rm, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Bench, BenchMeasurement } from './types.js';
import { linearRepo } from '../test/helpers/origin/fixture.js';
import { startBenchServer } from './benchServer.js';
import { childEnv, GiB, mbPerSecond, MiB, sha256File, loadNote, loadNow } from './benchFiles.js';
import { timeProcessWithUsage, usageMethod, type UsageRun } from './processUsage.js';

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const REPO = 'bench/huge-model';
const FILE = 'model-4g.safetensors';
const TARGET_BYTES = 150e6;

const bench: Bench = {
  name: 'rss',
  description: 'peak RSS of hubcache download of a 4 GiB file (sparse fixture, nginx or node CDN), target < 150 MB',
  async run({ workDir, quick }) {
    const size = quick ? 512 * MiB : 4 * GiB;
    const log = (line: string): void => void process.stderr.write(`${line}\n`);
    const loadAtStart = loadNow();
    const fs = await statfs(workDir);
    const free = Number(fs.bavail) * Number(fs.bsize);
    if (free < size * 1.25) {
      return {
        bench: 'rss',
        description: this.description,
        measurements: [{ name: 'free disk space', value: Math.round(free / MiB), unit: 'MiB' }],
        ratios: [{ name: 'peak RSS (MB), lower is better', value: NaN, target: '< 150', met: false }],
        notes: [`skipped: ${size} bytes needed in ${workDir}, ${free} free (set HUBCACHE_BENCH_DIR to a roomier place)`],
      };
    }
    const source = join(workDir, 'sparse.bin');
    const handle = await open(source, 'w');
    await handle.truncate(size); // a hole: reads as zeros, takes no space
    await handle.close();
    log(`    hashing the ${size}-byte sparse fixture (origin prepares sha256 + git-sha1)…`);
    const server = await startBenchServer({ workDir, fixture: { repos: [linearRepo({ repoId: REPO, commits: [{ files: [{ path: FILE, source: { file: source } }] }] })] } });
    try {
      const expected = server.origin.file({ repoId: REPO, path: FILE });
      const env = childEnv({ HF_ENDPOINT: server.endpoint, HF_HOME: join(workDir, 'hf-home') });
      const runHubcache = async (name: string, extra: string[]): Promise<UsageRun> => {
        const dir = join(workDir, 'runs', name);
        await mkdir(dir, { recursive: true });
        const run = await timeProcessWithUsage({ command: process.execPath, args: [CLI, 'download', REPO, FILE, '--cache-dir', join(dir, 'hub'), ...extra], env });
        if (run.code !== 0) throw new Error(`${name} failed (exit ${run.code}): ${run.stderr.slice(0, 2000)}`);
        const blob = await realpath(run.stdout.trim().split('\n').pop() ?? '');
        const got = await sha256File(blob);
        if (got.sha256 !== expected.blob.sha256 || got.size !== size) throw new Error(`${name}: wrong blob (${got.size} bytes, ${got.sha256})`);
        await rm(dir, { recursive: true, force: true });
        log(`    ${name}: ${run.seconds.toFixed(2)} s, peak RSS ${((run.maxRssKiB ?? 0) / 1024).toFixed(1)} MiB`);
        return run;
      };
      // Peak RSS varies ~5-10% between identical runs (GC timing), so the default gets two runs and the max counts.
      const defaults = [await runHubcache('hubcache', [])];
      const single = await runHubcache('hubcache-c1', ['--connections', '1']);
      if (!quick) defaults.push(await runHubcache('hubcache', []));

      const peak = Math.max(...defaults.map((r) => r.maxRssKiB ?? Infinity));
      const peakBytes = peak * 1024;
      const mib = (kib: number | undefined): number => Math.round(((kib ?? NaN) / 1024) * 10) / 10;
      const measurements: BenchMeasurement[] = [
        { name: `hubcache download peak RSS (default connections, max of ${defaults.length})`, value: mib(peak), unit: 'MiB' },
        { name: 'hubcache download --connections 1 peak RSS', value: mib(single.maxRssKiB), unit: 'MiB' },
        { name: 'hubcache download time (default, last run)', seconds: defaults[defaults.length - 1]?.seconds ?? NaN },
        { name: 'hubcache throughput (default, last run)', value: mbPerSecond(size, defaults[defaults.length - 1]?.seconds ?? NaN), unit: 'MB/s' },
        { name: 'file size', value: size, unit: 'bytes' },
      ];
      return {
        bench: 'rss',
        description: this.description,
        measurements,
        ratios: [
          { name: 'hubcache peak RSS in MB (10^6 bytes), lower is better', value: peakBytes / 1e6, target: '< 150', met: peakBytes < TARGET_BYTES },
          { name: 'hubcache --connections 1 peak RSS in MB', value: ((single.maxRssKiB ?? Infinity) * 1024) / 1e6, target: '< 150', met: (single.maxRssKiB ?? Infinity) * 1024 < TARGET_BYTES },
        ],
        notes: [
          `peak RSS measured with ${usageMethod() === 'gnu-time' ? 'GNU /usr/bin/time -f %M (ru_maxrss of the node process, worker threads included)' : 'polling /proc/<pid>/status VmHWM every 20 ms'}`,
          `bytes served by ${server.description}`,
          'every blob re-hashed after its run: sha256 and size matched',
          quick ? 'quick mode: 512 MiB instead of 4 GiB' : 'fixture: 4 GiB sparse file (zeros), deleted afterwards with the work dir',
          loadNote(loadAtStart),
        ],
      };
    } finally {
      await server.close();
      await rm(source, { force: true });
    }
  },
};

export default bench;
