/**
 * Download (issue 3): one 1 GiB LFS file from the origin over loopback, the
 * bytes served by nginx (sendfile) when it is installed, written to disk.
 * Competitors, whole process as a user waits for it, fresh target each time:
 *   - hubcache download (default: one stream), hash verified while receiving
 *   - curl -s -o FILE <the CDN URL the resolve redirects to> (no metadata round trip, no hash)
 *   - @huggingface/hub downloadFileToCacheDir (bench/hfjsDownload.mjs; no hash check)
 * Rounds rotate the order; figures are medians. Every hubcache blob is re-hashed
 * after its run (untimed) and must equal the origin's sha256.
 */
import { mkdir, readlink, realpath, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Bench, BenchMeasurement, BenchRatio } from './types.js';
import { median } from './measure.js';
import { timeProcessWithUsage, type UsageRun } from './processUsage.js';
import { BIG_FILE as FILE, BIG_REPO as REPO, bigFileSize, startBigFileServer, warmBigFile } from './bigFileServer.js';
import { childEnv, mbPerSecond, rotatedRounds, sha256File, syncDisks, spread, type Competitor, loadNote, loadNow } from './benchFiles.js';

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const HFJS = join(ROOT, 'bench', 'hfjsDownload.mjs');

const bench: Bench = {
  name: 'download',
  description: 'one 1 GiB file over loopback: hubcache download (hash verified) vs curl -o vs @huggingface/hub downloadFileToCacheDir',
  async run({ workDir, quick }) {
    const size = bigFileSize(quick);
    const rounds = quick ? 2 : 7;
    const log = (line: string): void => void process.stderr.write(`${line}\n`);
    const loadAtStart = loadNow();
    const server = await startBigFileServer({ workDir, size });
    try {
      const sha256 = await warmBigFile(server);
      const cdnUrl = server.cdnUrlOf(sha256);
      const env = childEnv({ HF_ENDPOINT: server.endpoint, HF_HOME: join(workDir, 'hf-home') });
      log(`    bytes served by: ${server.kind}; ${size} bytes, sha256 ${sha256.slice(0, 16)}…`);

      const runDir = (name: string, round: number): string => join(workDir, 'runs', `${name}-${round + 1}`);
      const hubcache = (name: string, extra: string[]): Competitor<UsageRun> => ({
        async run(round) {
          const dir = runDir(name, round);
          await mkdir(dir, { recursive: true });
          return timeProcessWithUsage({ command: process.execPath, args: [CLI, 'download', REPO, FILE, '--cache-dir', join(dir, 'hub'), ...extra], env });
        },
        async after(run, round) {
          const local = run.stdout.trim().split('\n').pop() ?? '';
          const blob = await realpath(local);
          // The snapshot entry must be a relative link into blobs/ named by the sha256.
          const target = await readlink(local);
          const got = await sha256File(blob);
          if (target.startsWith('/') || !blob.endsWith(`/blobs/${sha256}`) || got.sha256 !== sha256 || got.size !== size) {
            throw new Error(`${name}: wrong result at ${local} -> ${target}: sha256 ${got.sha256}, ${got.size} bytes`);
          }
          await rm(runDir(name, round), { recursive: true, force: true });
        },
      });
      const competitors: Record<string, Competitor<UsageRun>> = {
        curl: {
          async run(round) {
            const dir = runDir('curl', round);
            await mkdir(dir, { recursive: true });
            return timeProcessWithUsage({ command: 'curl', args: ['-s', '-f', '-o', join(dir, 'file.bin'), cdnUrl], env });
          },
          async after(_run, round) {
            const file = join(runDir('curl', round), 'file.bin');
            // Every competitor's output is re-hashed after every run, so each next run starts after
            // the same clean-up (reading 1 GiB, then deleting it), whoever ran before it.
            const got = await sha256File(file);
            if (got.size !== size || got.sha256 !== sha256) throw new Error(`curl: wrong result (${got.size} bytes, ${got.sha256})`);
            await rm(runDir('curl', round), { recursive: true, force: true });
          },
        },
        hubcache: hubcache('hubcache', []),
        hfjs: {
          async run(round) {
            const dir = runDir('hfjs', round);
            await mkdir(dir, { recursive: true });
            return timeProcessWithUsage({ command: process.execPath, args: [HFJS, server.endpoint, REPO, FILE, join(dir, 'hub')], env, cwd: ROOT });
          },
          async after(run, round) {
            const local = run.stdout.trim().split('\n').pop() ?? '';
            const got = await sha256File(local);
            if (got.size !== size || got.sha256 !== sha256) throw new Error(`hfjs: wrong result (${got.size} bytes, ${got.sha256})`);
            await rm(runDir('hfjs', round), { recursive: true, force: true });
          },
        },
      };
      // Load each client's code into the page cache once, untimed (a warm-up download round would cost ~15 s).
      await timeProcessWithUsage({ command: process.execPath, args: [CLI, 'download', '--help'], env });
      await timeProcessWithUsage({ command: process.execPath, args: ['-e', "import('@huggingface/hub')"], env, cwd: ROOT });
      const results = await rotatedRounds({ rounds, competitors, settle: syncDisks, log });
      const cdnHitsOnNode = server.origin.stats.requests.cdn;

      const t = (name: string): number => (results[name] as { median: number }).median;
      const all = (name: string): number[] => (results[name] as { all: number[] }).all;
      const runs = (name: string): UsageRun[] => (results[name] as { runs: UsageRun[] }).runs;
      const measurements: BenchMeasurement[] = [];
      const label: Record<string, string> = {
        curl: 'curl -s -o FILE <CDN URL>',
        hubcache: 'hubcache download (default: one stream, sha256 verified)',
        hfjs: '@huggingface/hub downloadFileToCacheDir (no hash)',
      };
      for (const name of Object.keys(competitors)) {
        measurements.push({ name: `${label[name]} (median of ${all(name).length})`, seconds: t(name) });
      }
      for (const name of Object.keys(competitors)) {
        measurements.push({ name: `${name} throughput`, value: mbPerSecond(size, t(name)), unit: 'MB/s' });
      }
      for (const name of Object.keys(competitors)) {
        const cpu = runs(name).filter((r) => r.userSeconds !== undefined).map((r) => (r.userSeconds ?? 0) + (r.sysSeconds ?? 0));
        const user = runs(name).map((r) => r.userSeconds ?? 0);
        if (cpu.length > 0) measurements.push({ name: `${name} CPU time user+sys (median; user ${median(user).toFixed(2)} s)`, value: round2(median(cpu)), unit: 's' });
      }
      for (const name of Object.keys(competitors)) {
        const rss = runs(name).map((r) => r.maxRssKiB ?? 0);
        measurements.push({ name: `${name} peak RSS (max over runs)`, value: Math.round(Math.max(...rss) / 1024), unit: 'MiB' });
      }
      measurements.push({ name: 'file size', value: size, unit: 'bytes' });

      const vsCurl = t('curl') / t('hubcache');
      const vsHfjs = t('hfjs') / t('hubcache');
      const ratios: BenchRatio[] = [
        { name: 'hubcache throughput / curl throughput', value: vsCurl, target: '>= 0.8', met: vsCurl >= 0.8 },
        { name: 'hubcache throughput / @huggingface/hub throughput', value: vsHfjs, target: '>= 1.5', met: vsHfjs >= 1.5 },
      ];
      const notes = [
        `bytes served by ${server.description}`,
        `every hubcache blob re-hashed after its run (untimed): sha256 and size matched the origin's, snapshot entry a relative link`,
        ...Object.keys(competitors).map((name) => `${name}: ${spread(all(name))}`),
        `hubcache and @huggingface/hub pay node start-up and the metadata request (HEAD / paths-info) inside their time; curl fetches the CDN URL directly`,
      ];
      notes.push(loadNote(loadAtStart));
      if (server.kind === 'nginx' && cdnHitsOnNode > 0) notes.push(`WARNING: ${cdnHitsOnNode} CDN request(s) reached the node origin instead of nginx`);
      return { bench: 'download', description: this.description, measurements, ratios, notes };
    } finally {
      await server.close();
    }
  },
};

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}

export default bench;
