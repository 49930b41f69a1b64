// One run of bench/tlsReceiveBench.ts: transferBlob of one file by one receive option, in this
// process, then one JSON line: CPU of the whole process and of its main thread, wall time, digest.
// Usage: tlsReceiveChild.mjs OPTION URL SIZE SHA256 DIR   (OPTION: node | raw | raw-worker)
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';

const [option, url, sizeText, sha256, dir] = process.argv.slice(2);
const size = Number(sizeText);
const TRANSFER = new URL('../dist/download/transferBlob.js', import.meta.url).href;
const ticks = 100;

/** CPU seconds of each live thread of this process, by thread id (Linux /proc). */
function threadSeconds() {
  const out = {};
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out[tid] = (Number(fields[11]) + Number(fields[12])) / ticks;
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return out;
}

const params = { url, size, etag: sha256, algorithm: 'sha256', partialPath: join(dir, 'partial'), statePath: join(dir, 'state'), connections: 1, what: 'bench', engine: option === 'node' ? 'node' : 'raw' };
const cpu0 = process.cpuUsage();
const main0 = threadSeconds()[String(process.pid)] ?? 0;
const start = process.hrtime.bigint();
let digest;
if (option === 'raw-worker') {
  // The worker owns the whole transfer (socket, TLS, the ring's writer and hasher threads).
  const source = `const { workerData, parentPort } = require('node:worker_threads');
    import(workerData.module).then(({ transferBlob }) => transferBlob(workerData.params)).then((r) => parentPort.postMessage(r.digest), (e) => { throw e; });`;
  digest = await new Promise((resolve, reject) => {
    const worker = new Worker(source, { eval: true, workerData: { module: TRANSFER, params } });
    worker.once('message', resolve);
    worker.once('error', reject);
  });
} else {
  const { transferBlob } = await import(TRANSFER);
  digest = (await transferBlob(params)).digest;
}
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
const cpu = process.cpuUsage(cpu0);
const main = (threadSeconds()[String(process.pid)] ?? 0) - main0;
process.stdout.write(`${JSON.stringify({ option, ok: digest === sha256, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, userSeconds: cpu.user / 1e6, mainThreadSeconds: main })}\n`);
