/**
 * `hubcache serve` (issue 10), as a real `node dist/cli/main.js serve` process in front of the
 * test origin running in its own process, clients being `curl -s -o /dev/null` processes:
 *   - cached: one 1 GiB blob to 1 and to 16 concurrent clients, hubcache serve vs nginx (Debian
 *     package, sendfile, our own child with a generated config) serving the same blob file from
 *     the same cache dir. Aggregate throughput (clients x size / wall time), median of rounds
 *     that rotate and reverse the order. Target >= 0.8x nginx in both.
 *   - the serve process's RSS during the 16-client runs (VmRSS sampled, VmHWM at the end, a
 *     process that only served cache hits). Target < 200 MB.
 *   - cold pull-through: a fresh cache and a fresh serve process per run, 1 client vs 8 concurrent
 *     clients of the same file. Target: 8 clients within 1.2x of 1 client, and the origin's
 *     counters show one upstream body transfer of exactly the file's size.
 * The origin's file is the download bench's (same seed and size: generated once per machine).
 */
import { mkdir, rm } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import type { Bench, BenchMeasurement, BenchRatio } from './types.js';
import { median, type ProcessRun } from './measure.js';
import { findNginx } from './benchServer.js';
import { childEnv, GiB, loadNote, loadNow, mbPerSecond, MiB, rotatedRounds, sha256File, spread, syncDisks, warmPageCache, type Competitor } from './benchFiles.js';
import { startOriginProcess, type OriginProcess } from './startOriginProcess.js';
import { startServeProcess, type ServeProcess } from './serveProcess.js';
import { startNginxFileServer } from './nginxFileServer.js';
import { runCurlClients } from './curlClients.js';
import { sampleRss, type RssFigures } from './rssSampler.js';
import { cpuSeconds, withChildren } from './processCpu.js';
import type { OriginStatsMessage } from './originMessages.js';

const REPO = 'bench/big-model';
const FILE = 'model.safetensors';
const SEED = 'hubcache-bench-download';
const RSS_TARGET_MB = 200;
/** A fast internet link to the Hub: the upstream speed of the WAN cold runs. */
const WAN_BYTES_PER_SECOND = 100 * 1000 * 1000;

interface ClientsRun extends ProcessRun {
  clients: number;
  /** CPU seconds the server (all its processes) used during the run. */
  serverCpu: number;
  /** CPU seconds of all the curl clients together (GNU time), when known. */
  clientCpu?: number;
  /** CPU seconds of the origin process during a cold run. */
  originCpu?: number;
  rss?: RssFigures;
  upstream?: OriginStatsMessage;
}

const bench: Bench = {
  name: 'serve',
  description: 'hubcache serve: cached 1 GiB to 1/16 curl clients vs nginx; cold pull-through 8 clients vs 1 (one upstream transfer); serve RSS',
  async run({ workDir, quick }) {
    const size = quick ? 256 * MiB : GiB;
    const cachedRounds = quick ? 2 : 5;
    const coldRounds = quick ? 2 : 3;
    const log = (line: string): void => void process.stderr.write(`${line}\n`);
    const loadAtStart = loadNow();
    const nginx = findNginx();
    if (!nginx) {
      return {
        bench: 'serve',
        description: this.description,
        measurements: [],
        ratios: [{ name: 'hubcache serve / nginx throughput', value: NaN, target: '>= 0.8', met: false }],
        notes: ['skipped: nginx is not installed (Debian: apt-get install -y nginx)'],
      };
    }
    const env = childEnv({});
    log(`    starting the origin process (${size} bytes, generated once per machine)…`);
    const origin = await startOriginProcess({ repoId: REPO, path: FILE, size, seed: SEED, env });
    try {
      const { info } = origin;
      await warmPageCache([info.path]);
      const blobRel = `models--${REPO.replace('/', '--')}/blobs/${info.etag}`;
      const measurements: BenchMeasurement[] = [];
      const ratios: BenchRatio[] = [];
      const notes: string[] = [];

      // ---- Cold pull-through: fresh cache and fresh serve process per run, 1 vs 8 clients. ----
      const coldDir = (clients: number, round: number): string => join(workDir, 'cold', `c${clients}-r${round + 1}`);
      const cold = (clients: number): Competitor<ClientsRun> => ({
        async run(round) {
          const dir = coldDir(clients, round);
          await mkdir(dir, { recursive: true });
          const serve = await startServeProcess({ upstream: info.url, cacheDir: join(dir, 'hub'), env });
          try {
            await origin.reset();
            const rss = sampleRss({ pid: serve.pid });
            const cpuBefore = await cpuSeconds([serve.pid]);
            const originBefore = await cpuSeconds([origin.pid]);
            const run = await runCurlClients({ url: `${serve.url}/${REPO}/resolve/main/${FILE}`, clients, expectBytes: size, env });
            const serverCpu = (await cpuSeconds([serve.pid])) - cpuBefore;
            const originCpu = (await cpuSeconds([origin.pid])) - originBefore;
            return { seconds: run.seconds, code: 0, stdout: '', stderr: '', clients, serverCpu, clientCpu: run.clientCpu, originCpu, rss: await rss.stop(), upstream: await origin.stats() };
          } finally {
            await serve.close();
          }
        },
        async after(run, round) {
          // Untimed: the blob the mirror committed is the origin's file, and it moved upstream once.
          const got = await sha256File(join(coldDir(clients, round), 'hub', blobRel));
          if (got.sha256 !== info.sha256 || got.size !== size) throw new Error(`cold ${clients}: wrong blob (${got.size} bytes, ${got.sha256})`);
          const up = run.upstream;
          if (!up) throw new Error('cold: no origin stats');
          log(`      cold ${clients} client(s): upstream body bytes ${up.blobBytes}, body requests ${up.requests.cdn + up.requests.getResolve}, HEADs ${up.requests.head}`);
          await rm(coldDir(clients, round), { recursive: true, force: true });
        },
      });
      log('    cold pull-through (fresh cache and serve process each run):');
      const coldResults = await rotatedRounds({ rounds: coldRounds, competitors: { 'cold-1': cold(1), 'cold-8': cold(8) }, settle: syncDisks, log });
      const cold1 = coldResults['cold-1']!;
      const cold8 = coldResults['cold-8']!;
      const transfers = cold8.runs.map((r) => ({ bytes: r.upstream?.blobBytes ?? NaN, requests: (r.upstream?.requests.cdn ?? NaN) + (r.upstream?.requests.getResolve ?? NaN) }));
      const oneTransfer = transfers.every((t) => t.bytes === size && t.requests === 1);
      measurements.push(
        { name: `cold, 1 client (median of ${cold1.all.length})`, seconds: cold1.median },
        { name: `cold, 8 concurrent clients, all done (median of ${cold8.all.length})`, seconds: cold8.median },
        { name: 'cold, 1 client throughput', value: mbPerSecond(size, cold1.median), unit: 'MB/s' },
        { name: 'cold, 8 clients: upstream body bytes per run', value: Math.max(...transfers.map((t) => t.bytes)), unit: 'bytes' },
        { name: 'cold, 8 clients: upstream body requests per run (max)', value: Math.max(...transfers.map((t) => t.requests)), unit: '' },
        { name: 'cold, serve CPU user+sys, 1 client (median)', value: round2(median(cold1.runs.map((r) => r.serverCpu))), unit: 's' },
        { name: 'cold, serve CPU user+sys, 8 clients (median)', value: round2(median(cold8.runs.map((r) => r.serverCpu))), unit: 's' },
        { name: 'cold, serve peak RSS (VmHWM), 8 clients (max)', value: mb(Math.max(...cold8.runs.map((r) => r.rss?.hwmKiB ?? NaN))), unit: 'MB' },
      );
      const coldRatio = cold8.median / cold1.median;
      ratios.push(
        { name: 'cold: 8 clients time / 1 client time', value: coldRatio, target: '<= 1.2', met: coldRatio <= 1.2 },
        { name: 'cold: upstream transfers of the blob for 8 clients', value: oneTransfer ? 1 : NaN, target: '== 1 (exactly size bytes)', met: oneTransfer },
      );
      notes.push(`cold 1 client: ${spread(cold1.all)}; cold 8 clients: ${spread(cold8.all)}`);
      // Every CPU second of the run (mirror, origin, clients): on a machine where they share the cores,
      // the 8-client run cannot take less wall time than its CPU needs, whatever the mirror does.
      const allCpu = (runs: ClientsRun[]): number => median(runs.map((r) => r.serverCpu + (r.originCpu ?? NaN) + (r.clientCpu ?? NaN)));
      const cpu1 = allCpu(cold1.runs);
      const cpu8 = allCpu(cold8.runs);
      measurements.push(
        { name: 'cold, all CPU (serve + origin + curl), 1 client (median)', value: round2(cpu1), unit: 's' },
        { name: 'cold, all CPU (serve + origin + curl), 8 clients (median)', value: round2(cpu8), unit: 's' },
      );
      if (Number.isFinite(cpu8)) {
        notes.push(
          `cold: 8 clients need ${round2(cpu8)} CPU s against ${round2(cpu1)} for 1 (x${(cpu8 / cpu1).toFixed(2)}); on ${cpus().length} cores that is at least ${round2(cpu8 / cpus().length)} s of wall time for the 8-client run`,
        );
      }

      // ---- Cold behind a WAN-speed upstream: the case a pull-through mirror exists for. With the origin
      // on loopback at full speed, 8 clients are bounded by how fast this machine can hand 8 copies
      // to local curl processes, not by the mirror; at 100 MB/s upstream the fill is the bottleneck. ----
      await origin.throttle(WAN_BYTES_PER_SECOND);
      log(`    cold pull-through with the origin at ${WAN_BYTES_PER_SECOND / 1e6} MB/s:`);
      const wanResults = await rotatedRounds({ rounds: quick ? 1 : 2, competitors: { 'wan-1': cold(1), 'wan-8': cold(8) }, settle: syncDisks, log });
      await origin.throttle(undefined);
      const wan1 = wanResults['wan-1']!;
      const wan8 = wanResults['wan-8']!;
      const wanTransfers = wan8.runs.every((r) => r.upstream?.blobBytes === size && (r.upstream?.requests.cdn ?? 0) + (r.upstream?.requests.getResolve ?? 0) === 1);
      measurements.push(
        { name: `cold at ${WAN_BYTES_PER_SECOND / 1e6} MB/s upstream, 1 client (median of ${wan1.all.length})`, seconds: wan1.median },
        { name: `cold at ${WAN_BYTES_PER_SECOND / 1e6} MB/s upstream, 8 clients, all done (median of ${wan8.all.length})`, seconds: wan8.median },
      );
      const wanRatio = wan8.median / wan1.median;
      ratios.push(
        { name: `cold at ${WAN_BYTES_PER_SECOND / 1e6} MB/s upstream: 8 clients time / 1 client time`, value: wanRatio, target: '<= 1.2', met: wanRatio <= 1.2 },
        { name: `cold at ${WAN_BYTES_PER_SECOND / 1e6} MB/s upstream: one transfer for 8 clients`, value: wanTransfers ? 1 : NaN, target: '== 1', met: wanTransfers },
      );

      // ---- Cached: the same blob file, served by hubcache serve and by nginx. ----
      const cacheDir = join(workDir, 'cached', 'hub');
      await mkdir(cacheDir, { recursive: true });
      let serve: ServeProcess = await startServeProcess({ upstream: info.url, cacheDir, env });
      await runCurlClients({ url: `${serve.url}/${REPO}/resolve/main/${FILE}`, clients: 1, expectBytes: size, env });
      await serve.close();
      const blobPath = join(cacheDir, blobRel);
      const got = await sha256File(blobPath);
      if (got.sha256 !== info.sha256 || got.size !== size) throw new Error(`cached: wrong blob (${got.size} bytes, ${got.sha256})`);
      await syncDisks();
      // A fresh serve process: its VmHWM then covers cache hits only.
      serve = await startServeProcess({ upstream: info.url, cacheDir, env });
      const server = await startNginxFileServer({ nginx, root: cacheDir, workDir });
      try {
        // By commit: the URL llama.cpp uses, and the one that needs no upstream question once the
        // mirror knows the file's facts (a branch URL re-asks upstream after --ref-ttl).
        const urls = { hubcache: `${serve.url}/${REPO}/resolve/${info.commit}/${FILE}`, nginx: `${server.url}/${blobRel}` };
        const pids = { hubcache: () => [serve.pid], nginx: () => withChildren(server.pid) };
        // Untimed warm-up: the mirror learns the file's facts (one HEAD upstream), both read the file once.
        for (const url of Object.values(urls)) await runCurlClients({ url, clients: 1, expectBytes: size, env });
        await origin.reset();
        const rss16: RssFigures[] = [];
        const cached = (name: 'hubcache' | 'nginx', clients: number): Competitor<ClientsRun> => ({
          async run() {
            const sampler = name === 'hubcache' && clients === 16 ? sampleRss({ pid: serve.pid }) : undefined;
            const before = await cpuSeconds(pids[name]());
            const run = await runCurlClients({ url: urls[name], clients, expectBytes: size, env });
            const serverCpu = (await cpuSeconds(pids[name]())) - before;
            const rss = await sampler?.stop();
            if (rss) rss16.push(rss);
            return { seconds: run.seconds, code: 0, stdout: '', stderr: '', clients, serverCpu, clientCpu: run.clientCpu, ...(rss ? { rss } : {}) };
          },
        });
        log(`    cached (${server.description}):`);
        const results = await rotatedRounds({
          rounds: cachedRounds,
          competitors: { 'hubcache-1': cached('hubcache', 1), 'nginx-1': cached('nginx', 1), 'hubcache-16': cached('hubcache', 16), 'nginx-16': cached('nginx', 16) },
          log,
        });
        const upstreamAfter = await origin.stats();
        const hwm = (await sampleRss({ pid: serve.pid }).stop()).hwmKiB;
        const throughput = (name: string, clients: number): number => mbPerSecond(clients * size, results[name]!.median);
        const perGiB = (name: string, clients: number, pick: (r: ClientsRun) => number | undefined): number =>
          round2(median(results[name]!.runs.map((r) => pick(r) ?? NaN)) / ((clients * size) / GiB));
        const cpuPerGiB = (name: string, clients: number): number => perGiB(name, clients, (r) => r.serverCpu);
        const clientCpuPerGiB = (name: string, clients: number): number => perGiB(name, clients, (r) => r.clientCpu);
        for (const clients of [1, 16]) {
          for (const name of ['hubcache', 'nginx']) {
            const key = `${name}-${clients}`;
            measurements.push({ name: `cached, ${name}, ${clients} client(s), all done (median of ${results[key]!.all.length})`, seconds: results[key]!.median });
            measurements.push({ name: `cached, ${name}, ${clients} client(s), aggregate throughput`, value: throughput(key, clients), unit: 'MB/s' });
            measurements.push({ name: `cached, ${name}, ${clients} client(s), server CPU per GiB served`, value: cpuPerGiB(key, clients), unit: 's' });
            measurements.push({ name: `cached, ${name}, ${clients} client(s), curl clients' CPU per GiB`, value: clientCpuPerGiB(key, clients), unit: 's' });
            notes.push(`cached ${key}: ${spread(results[key]!.all)}`);
          }
          const ratio = throughput(`hubcache-${clients}`, clients) / throughput(`nginx-${clients}`, clients);
          ratios.push({ name: `cached, ${clients} client(s): hubcache serve / nginx throughput`, value: ratio, target: '>= 0.8', met: ratio >= 0.8 });
          // When other work holds the cores, wall-clock throughput follows the scheduler's shares (nginx's
          // workers use little CPU and so get little); CPU per byte does not. If clients and server had the
          // cores to themselves and used them fully, throughput would go as 1 / (client + server CPU per byte).
          const costOf = (name: string): number => clientCpuPerGiB(`${name}-${clients}`, clients) + cpuPerGiB(`${name}-${clients}`, clients);
          const bound = costOf('nginx') / costOf('hubcache');
          if (Number.isFinite(bound)) {
            notes.push(`cached ${clients} client(s): CPU-bound estimate of hubcache/nginx throughput = (curl + nginx CPU per GiB) / (curl + hubcache CPU per GiB) = ${bound.toFixed(2)} (ignores that node sends from one thread)`);
          }
        }
        const maxRss = Math.max(...rss16.map((r) => r.maxRssKiB ?? NaN));
        measurements.push(
          { name: 'serve VmRSS during the 16-client runs (max sampled)', value: mb(maxRss), unit: 'MB' },
          { name: 'serve VmHWM at the end (cache hits only, whole life)', value: mb(hwm ?? NaN), unit: 'MB' },
          { name: 'file size', value: size, unit: 'bytes' },
        );
        const peak = mb(Math.max(maxRss, hwm ?? NaN));
        ratios.push({ name: 'serve RSS during 16 clients (MB, VmHWM), lower is better', value: peak, target: `< ${RSS_TARGET_MB}`, met: peak < RSS_TARGET_MB });
        if (upstreamAfter.bodyBytes !== 0) notes.push(`WARNING: cached runs moved ${upstreamAfter.bodyBytes} body bytes upstream`);
        notes.push(
          `cached runs: the origin saw ${upstreamAfter.requests.head} HEAD and ${upstreamAfter.bodyBytes} body bytes (URL by commit, facts known after the warm-up)`,
          `clients: curl -s -o /dev/null, started together; throughput = clients x ${size} bytes / wall time until the last exits`,
          `nginx: ${server.description}; hubcache serve is one node process`,
        );
      } finally {
        await server.close();
        await serve.close();
      }
      notes.push(`origin: the node test origin in its own process (separate CDN port), serving a generated file from the page cache`);
      notes.push(loadNote(loadAtStart));
      return { bench: 'serve', description: this.description, measurements, ratios, notes };
    } finally {
      await closeQuietly(origin);
    }
  },
};

async function closeQuietly(origin: OriginProcess): Promise<void> {
  await origin.close().catch(() => undefined);
}

function mb(kib: number): number {
  return Math.round((kib * 1024) / 1e5) / 10;
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}

export default bench;
