/**
 * Scale-out (issue 14): `hubcache serve --store s3://...` replicas over one bucket of a real Ceph
 * RGW (Debian's packages, booted for the bench in its work dir), the origin in its own process,
 * clients being `curl -s -o /dev/null` processes.
 *   - cached: one 1 GiB blob to 16 concurrent clients through 2 replicas (8 each; the blob already
 *     in the store and in each replica's local read cache) vs the same 16 clients reading the
 *     object straight from RGW with a presigned URL. Target >= 0.8x.
 *   - cold: a fresh store (its own Ceph cluster), bucket and replicas per run; 12 clients over 3 replicas (4 each) vs one
 *     client through one replica. Target: within 1.3x, and the origin sent the file once. The store
 *     is the bottleneck (RGW on the same cores): one cold client costs it the part PUTs plus the
 *     assembly copy, so the two following replicas get each part from the filling one (peer, checked
 *     against the part's ETag) instead of reading it back from the store; the notes say how many
 *     parts came from the peer vs the store.
 * Cold runs also report CPU seconds (user + sys) of the store (Ceph's daemons), the replicas and the
 * curl clients: on 2 shared cores the wall time follows the CPU the whole run needs, and the CPU
 * figures move much less with other load than the wall time does.
 * Skipped (and says so) where Ceph cannot be installed. SCALEOUT_SIZE_MIB overrides the size;
 * SCALEOUT_COLD_ONLY=1 skips the cached part (development).
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { cephSkipReason, startCephCluster, type Ceph } from '../test/helpers/ceph/cephCluster.js';
import type { Bench, BenchMeasurement, BenchRatio } from './types.js';
import { median } from './measure.js';
import { childEnv, GiB, loadNote, loadNow, mbPerSecond, MiB } from './benchFiles.js';
import { startOriginProcess } from './startOriginProcess.js';
import { startServeProcess, type ServeProcess } from './serveProcess.js';
import { runCurlClients } from './curlClients.js';
import { cpuSeconds } from './processCpu.js';
import { peakRssKiB } from './processUsage.js';

const REPO = 'bench/big-model';
const FILE = 'model.safetensors';
const SEED = 'hubcache-bench-download';

const bench: Bench = {
  name: 'scaleout',
  description: 'serve --store on a Ceph RGW: cached 1 GiB to 16 clients via 2 replicas vs presigned RGW; cold 12 clients via 3 replicas vs 1 client',
  async run({ workDir, quick }) {
    const size = process.env.SCALEOUT_SIZE_MIB ? Number(process.env.SCALEOUT_SIZE_MIB) * MiB : quick ? 256 * MiB : GiB;
    const rounds = quick ? 1 : 3;
    const log = (line: string): void => void process.stderr.write(`${line}\n`);
    const loadAtStart = loadNow();
    const skip = cephSkipReason();
    if (skip) return { bench: 'scaleout', description: bench.description, measurements: [], ratios: [], notes: [`skipped: ${skip}`] };
    const origin = await startOriginProcess({ repoId: REPO, path: FILE, size, seed: SEED, env: childEnv({}) });
    const env = childEnv({});
    /** The Ceph clusters running now (the cached part's, or one cold run's): stopped at the end whatever happens. */
    const stores = new Set<Ceph>();
    const startStore = async (name: string): Promise<Ceph> => {
      const store = await startCephCluster({ dir: join(workDir, name) });
      stores.add(store);
      return store;
    };
    const stopStore = async (store: Ceph, name: string): Promise<void> => {
      stores.delete(store);
      await store.stop();
      await rm(join(workDir, name), { recursive: true, force: true });
    };
    const servers: ServeProcess[] = [];
    let n = 0;
    const replicas = async (store: Ceph, bucket: string, count: number): Promise<ServeProcess[]> => {
      const started = await Promise.all(
        Array.from({ length: count }, async () => {
          const cacheDir = join(workDir, `replica-${n++}`);
          await mkdir(cacheDir, { recursive: true });
          const profile = process.env.SCALEOUT_CPU_PROF ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${process.env.SCALEOUT_CPU_PROF}`] } : {};
          return startServeProcess({ upstream: origin.info.url, cacheDir, env: childEnv(store.env), extraArgs: ['--store', `s3://${bucket}/m`, '--no-dashboard'], ...profile });
        }),
      );
      servers.push(...started);
      return started;
    };
    const stopAll = async (list: ServeProcess[]): Promise<void> => {
      await Promise.all(list.map((s) => s.close()));
    };
    const url = (s: ServeProcess): string => `${s.url}/${REPO}/resolve/main/${FILE}`;
    /** Clients spread evenly over the servers, all started together; wall time to the last exit. */
    const spreadClients = async (over: ServeProcess[], clients: number, store: Ceph): Promise<number> => (await spreadClientsCpu(over, clients, store)).seconds;
    /** The same, with the CPU seconds the clients, the replicas and the store spent meanwhile. */
    const spreadClientsCpu = async (
      over: ServeProcess[],
      clients: number,
      store: Ceph,
    ): Promise<{ seconds: number; cpu: { store: number; replicas: number; clients: number; perReplica: number[] } }> => {
      const replicaPids = over.map((s) => s.pid);
      const [store0, replicas0] = [await cpuSeconds(store.pids), await Promise.all(replicaPids.map((pid) => cpuSeconds([pid])))];
      const start = process.hrtime.bigint();
      const runs = await Promise.all(over.map((s) => runCurlClients({ url: url(s), clients: clients / over.length, expectBytes: size, env })));
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      return {
        seconds,
        cpu: {
          store: (await cpuSeconds(store.pids)) - store0,
          replicas: (await Promise.all(replicaPids.map((pid) => cpuSeconds([pid])))).reduce((sum, cpu, i) => sum + cpu - replicas0[i]!, 0),
          perReplica: (await Promise.all(replicaPids.map((pid) => cpuSeconds([pid])))).map((cpu, i) => cpu - replicas0[i]!),
          clients: runs.reduce((sum, run) => sum + (run.clientCpu ?? NaN), 0),
        },
      };
    };
    const measurements: BenchMeasurement[] = [];
    const ratios: BenchRatio[] = [];
    const partsFrom = { peer: 0, store: 0 };
    try {
      if (process.env.SCALEOUT_COLD_ONLY !== '1') {
        // Cached.
        const ceph = await startStore('ceph-cached');
        await ceph.createBucket('cached');
        const two = await replicas(ceph, 'cached', 2);
        for (const s of two) await runCurlClients({ url: url(s), clients: 1, expectBytes: size, env }); // fill + each local cache
        const presigned = await getSignedUrl(ceph.client, new GetObjectCommand({ Bucket: 'cached', Key: `m/blobs/sha256/${origin.info.etag}` }), { expiresIn: 3600 });
        const viaReplicas: number[] = [];
        const viaRgw: number[] = [];
        for (let round = 0; round < rounds; round++) {
          // Alternate the order so neither side always runs on a warmer machine.
          const order = round % 2 === 0 ? ['replicas', 'rgw'] : ['rgw', 'replicas'];
          for (const side of order) {
            if (side === 'replicas') viaReplicas.push(await spreadClients(two, 16, ceph));
            else viaRgw.push((await runCurlClients({ url: presigned, clients: 16, expectBytes: size, env })).seconds);
            log(`  cached round ${round + 1} ${side}: ${(side === 'replicas' ? viaReplicas : viaRgw).at(-1)!.toFixed(2)} s`);
          }
        }
        const replicasS = median(viaReplicas);
        const rgwS = median(viaRgw);
        measurements.push(
          { name: `cached ${size / MiB} MiB x 16 clients via 2 replicas (${mbPerSecond(16 * size, replicasS)} MB/s)`, seconds: replicasS },
          { name: `cached ${size / MiB} MiB x 16 clients presigned from RGW (${mbPerSecond(16 * size, rgwS)} MB/s)`, seconds: rgwS },
        );
        ratios.push({ name: 'cached: replicas throughput / RGW presigned', value: rgwS / replicasS, target: '>= 0.8', met: rgwS / replicasS >= 0.8 });
        await stopAll(two);
        await stopStore(ceph, 'ceph-cached');
      }

      // Cold.
      const one: number[] = [];
      const twelve: number[] = [];
      let upstreamOk = true;
      const cpuOne: Array<{ store: number; replicas: number; clients: number }> = [];
      const cpuTwelve: Array<{ store: number; replicas: number; clients: number }> = [];
      const rssOne: number[] = [];
      const rssTwelve: number[] = [];
      for (let round = 0; round < rounds; round++) {
        for (const clients of round % 2 === 0 ? [1, 12] : [12, 1]) {
          // A fresh store per run, so every run starts from the same empty cluster: on one cluster
          // for all runs, both runs of the last round were often the slowest.
          const storeName = `ceph-cold-${round}-${clients}`;
          const store = await startStore(storeName);
          await store.createBucket('cold');
          const set = await replicas(store, 'cold', clients === 1 ? 1 : 3);
          await origin.reset();
          const { seconds, cpu } = await spreadClientsCpu(set, clients, store);
          const stats = await origin.stats();
          (clients === 1 ? cpuOne : cpuTwelve).push(cpu);
          if (stats.blobBytes !== size) upstreamOk = false;
          (clients === 1 ? one : twelve).push(seconds);
          const parts = await followerParts(set);
          // Fresh replicas per run: their peak RSS is this run's.
          const rssMiB = await Promise.all(set.map(async (s) => Math.round(((await peakRssKiB(s.pid)) ?? NaN) / 1024)));
          (clients === 1 ? rssOne : rssTwelve).push(Math.max(...rssMiB));
          partsFrom.peer += parts.peer;
          partsFrom.store += parts.store;
          log(
            `  cold round ${round + 1}, ${clients} client(s): ${seconds.toFixed(2)} s, upstream ${stats.blobBytes} bytes, follower parts ${parts.peer} from peer / ${parts.store} from store, ` +
              `CPU s: store ${cpu.store.toFixed(1)}, replicas ${cpu.replicas.toFixed(1)} (${cpu.perReplica.map((c) => c.toFixed(1)).join(' + ')}), clients ${cpu.clients.toFixed(1)}; ` +
              `replicas' peak RSS MiB ${rssMiB.join(', ')}`,
          );
          await stopAll(set);
          await stopStore(store, storeName);
        }
      }
      const oneS = median(one);
      const twelveS = median(twelve);
      measurements.push(
        { name: `cold ${size / MiB} MiB, 1 client via 1 replica`, seconds: oneS },
        { name: `cold ${size / MiB} MiB, 12 clients via 3 replicas`, seconds: twelveS },
        { name: 'cold: every run had one upstream transfer of the file', value: upstreamOk ? 1 : 0, unit: 'yes' },
        { name: `cold ${size / MiB} MiB, 1 client: the replica's peak RSS (largest run)`, value: Math.max(...rssOne), unit: 'MiB' },
        { name: `cold ${size / MiB} MiB, 12 clients: largest replica peak RSS (largest run)`, value: Math.max(...rssTwelve), unit: 'MiB' },
        ...(['store', 'replicas', 'clients'] as const).flatMap((part) => [
          { name: `cold ${size / MiB} MiB, 1 client: CPU of the ${part}`, value: median(cpuOne.map((c) => c[part])), unit: 's' },
          { name: `cold ${size / MiB} MiB, 12 clients: CPU of the ${part}`, value: median(cpuTwelve.map((c) => c[part])), unit: 's' },
        ]),
      );
      ratios.push({ name: 'cold: 12 clients via 3 replicas / 1 client', value: twelveS / oneS, target: '<= 1.3', met: twelveS / oneS <= 1.3 && upstreamOk });
    } finally {
      await stopAll(servers).catch(() => undefined);
      await origin.close();
      for (const store of stores) await store.stop().catch(() => undefined);
    }
    return {
      bench: 'scaleout',
      description: bench.description,
      measurements,
      ratios,
      notes: [loadNote(loadAtStart), `cold runs: following replicas got ${partsFrom.peer} parts from the filling replica, ${partsFrom.store} from the store`],
    };
  },
};

/** Parts the replicas' followers got from the filling peer vs from the store (their /metrics). */
async function followerParts(set: ServeProcess[]): Promise<{ peer: number; store: number }> {
  const total = { peer: 0, store: 0 };
  for (const server of set) {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    total.peer += Number(/hubcache_follower_parts_total\{source="peer"\} (\d+)/.exec(text)?.[1] ?? 0);
    total.store += Number(/hubcache_follower_parts_total\{source="store"\} (\d+)/.exec(text)?.[1] ?? 0);
  }
  return total;
}

export default bench;
