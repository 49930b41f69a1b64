/**
 * Download over https (issue 15): one 1 GiB LFS file whose resolve redirects to
 * an https CDN, the real path of every Hub download. nginx serves the bytes over
 * TLS 1.3 on loopback with a self-signed certificate for `localhost` (trusted
 * through NODE_EXTRA_CA_CERTS, curl --cacert); the same nginx serves the same
 * file over http in the same run, so the http figure stands beside it.
 * Competitors, whole process as a user waits for it, fresh target each time:
 *   - hubcache download (default: one stream), sha256 verified while receiving
 *   - curl -s --cacert CA -o FILE <the https CDN URL> (no metadata round trip, no hash)
 *   - @huggingface/hub downloadFileToCacheDir (bench/hfjsDownload.mjs; no hash check)
 *   - hubcache and curl against the http CDN
 * Rounds rotate the order; figures are medians. Every result is re-hashed after
 * its run (untimed) and must equal the origin's sha256. Needs nginx: without it
 * there is no https CDN to measure and the bench says so.
 */
import { mkdir, readlink, realpath, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Bench, BenchMeasurement, BenchRatio } from './types.js';
import { median } from './measure.js';
import { timeProcessWithUsage, type UsageRun } from './processUsage.js';
import { BIG_FILE as FILE, BIG_REPO as REPO, withTlsBigFile } from './bigFileServer.js';
import { childEnv, loadNote, mbPerSecond, rotatedRounds, sha256File, spread, syncDisks, type Competitor } from './benchFiles.js';

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const HFJS = join(ROOT, 'bench', 'hfjsDownload.mjs');
const RSS_LIMIT_MIB = 150;

const bench: Bench = {
  name: 'download-tls',
  description: 'one 1 GiB file from an https CDN (nginx, TLS 1.3, loopback): hubcache download (sha256 verified) vs curl vs @huggingface/hub; http figures from the same run',
  run({ workDir, quick }) {
    return withTlsBigFile({ bench: 'download-tls', description: this.description, workDir, quick, measure: async ({ server, tls, size, rounds, sha256, loadAtStart, log }) => {
      // Only our own small certificate as the extra CA, for every Node client alike.
      const env = (endpoint: string): NodeJS.ProcessEnv => childEnv({ HF_ENDPOINT: endpoint, HF_HOME: join(workDir, 'hf-home'), NODE_EXTRA_CA_CERTS: tls.caFile });
      log(`    bytes served by: ${server.kind}; ${size} bytes, sha256 ${sha256.slice(0, 16)}…; https CDN ${tls.cdnUrlOf(sha256)}`);

      const runDir = (name: string, round: number): string => join(workDir, 'runs', `${name}-${round + 1}`);
      const checkFile = async (name: string, file: string): Promise<void> => {
        const got = await sha256File(file);
        if (got.size !== size || got.sha256 !== sha256) throw new Error(`${name}: wrong result at ${file} (${got.size} bytes, ${got.sha256})`);
      };
      const hubcache = (name: string, endpoint: string): Competitor<UsageRun> => ({
        async run(round) {
          const dir = runDir(name, round);
          await mkdir(dir, { recursive: true });
          return timeProcessWithUsage({ command: process.execPath, args: [CLI, 'download', REPO, FILE, '--cache-dir', join(dir, 'hub')], env: env(endpoint) });
        },
        async after(run, round) {
          const local = run.stdout.trim().split('\n').pop() ?? '';
          const blob = await realpath(local);
          // The snapshot entry must be a relative link into blobs/ named by the sha256.
          const target = await readlink(local);
          if (target.startsWith('/') || !blob.endsWith(`/blobs/${sha256}`)) throw new Error(`${name}: wrong result at ${local} -> ${target}`);
          await checkFile(name, blob);
          await rm(runDir(name, round), { recursive: true, force: true });
        },
      });
      const curl = (name: string, url: string, extra: string[]): Competitor<UsageRun> => ({
        async run(round) {
          const dir = runDir(name, round);
          await mkdir(dir, { recursive: true });
          return timeProcessWithUsage({ command: 'curl', args: ['-s', '-f', ...extra, '-o', join(dir, 'file.bin'), url], env: env(server.endpoint) });
        },
        async after(_run, round) {
          // Every competitor's output is re-hashed after every run, so each next run starts after
          // the same clean-up (reading the file, then deleting it), whoever ran before it.
          await checkFile(name, join(runDir(name, round), 'file.bin'));
          await rm(runDir(name, round), { recursive: true, force: true });
        },
      });
      const competitors: Record<string, Competitor<UsageRun>> = {
        curl: curl('curl', tls.cdnUrlOf(sha256), ['--cacert', tls.caFile]),
        hubcache: hubcache('hubcache', tls.endpoint),
        hfjs: {
          async run(round) {
            const dir = runDir('hfjs', round);
            await mkdir(dir, { recursive: true });
            return timeProcessWithUsage({ command: process.execPath, args: [HFJS, tls.endpoint, REPO, FILE, join(dir, 'hub')], env: env(tls.endpoint), cwd: ROOT });
          },
          async after(run, round) {
            await checkFile('hfjs', run.stdout.trim().split('\n').pop() ?? '');
            await rm(runDir('hfjs', round), { recursive: true, force: true });
          },
        },
        'curl-http': curl('curl-http', server.cdnUrlOf(sha256), []),
        'hubcache-http': hubcache('hubcache-http', server.endpoint),
      };
      // Load each client's code into the page cache once, untimed.
      await timeProcessWithUsage({ command: process.execPath, args: [CLI, 'download', '--help'], env: env(tls.endpoint) });
      await timeProcessWithUsage({ command: process.execPath, args: ['-e', "import('@huggingface/hub')"], env: env(tls.endpoint), cwd: ROOT });
      const results = await rotatedRounds({ rounds, competitors, settle: syncDisks, log });

      const t = (name: string): number => (results[name] as { median: number }).median;
      const all = (name: string): number[] => (results[name] as { all: number[] }).all;
      const runs = (name: string): UsageRun[] => (results[name] as { runs: UsageRun[] }).runs;
      const label: Record<string, string> = {
        curl: 'https: curl -s --cacert CA -o FILE <CDN URL>',
        hubcache: 'https: hubcache download (one stream, sha256 verified)',
        hfjs: 'https: @huggingface/hub downloadFileToCacheDir (no hash)',
        'curl-http': 'http: curl -s -o FILE <CDN URL>',
        'hubcache-http': 'http: hubcache download (one stream, sha256 verified)',
      };
      const measurements: BenchMeasurement[] = [];
      for (const name of Object.keys(competitors)) measurements.push({ name: `${label[name]} (median of ${all(name).length})`, seconds: t(name) });
      for (const name of Object.keys(competitors)) measurements.push({ name: `${name} throughput`, value: mbPerSecond(size, t(name)), unit: 'MB/s' });
      for (const name of Object.keys(competitors)) {
        const cpu = runs(name).filter((r) => r.userSeconds !== undefined).map((r) => (r.userSeconds ?? 0) + (r.sysSeconds ?? 0));
        const user = runs(name).map((r) => r.userSeconds ?? 0);
        if (cpu.length > 0) measurements.push({ name: `${name} CPU time user+sys (median; user ${median(user).toFixed(2)} s)`, value: Math.round(median(cpu) * 100) / 100, unit: 's' });
      }
      const peakRss = (name: string): number => Math.round(Math.max(...runs(name).map((r) => r.maxRssKiB ?? 0)) / 1024);
      for (const name of Object.keys(competitors)) measurements.push({ name: `${name} peak RSS (max over runs)`, value: peakRss(name), unit: 'MiB' });
      measurements.push({ name: 'http: hubcache throughput / curl throughput', value: Math.round((t('curl-http') / t('hubcache-http')) * 100) / 100, unit: 'x' });
      measurements.push({ name: 'file size', value: size, unit: 'bytes' });

      const vsCurl = t('curl') / t('hubcache');
      const vsHfjs = t('hfjs') / t('hubcache');
      const rss = Math.max(peakRss('hubcache'), peakRss('hubcache-http'));
      const ratios: BenchRatio[] = [
        { name: 'https: hubcache throughput / curl throughput', value: vsCurl, target: '>= 0.8', met: vsCurl >= 0.8 },
        { name: 'https: hubcache throughput / @huggingface/hub throughput', value: vsHfjs, target: '>= 1.5', met: vsHfjs >= 1.5 },
        { name: 'hubcache peak RSS (MiB, http and https)', value: rss, target: `< ${RSS_LIMIT_MIB}`, met: rss < RSS_LIMIT_MIB },
      ];
      const notes = [
        `bytes served by ${server.description}`,
        `every result re-hashed after its run (untimed): sha256 and size matched the origin's; hubcache's snapshot entries relative links`,
        ...Object.keys(competitors).map((name) => `${name}: ${spread(all(name))}`),
        `hubcache and @huggingface/hub pay node start-up, the metadata request (HEAD / paths-info) and the TLS handshake inside their time; curl fetches the CDN URL directly`,
        loadNote(loadAtStart),
      ];
      if (server.origin.stats.requests.cdn > 0) notes.push(`WARNING: ${server.origin.stats.requests.cdn} CDN request(s) reached the node origin instead of nginx`);
      return { bench: 'download-tls', description: this.description, measurements, ratios, notes };
    } });
  },
};

export default bench;
