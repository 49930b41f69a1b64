/**
 * Hashes many files on worker threads so verify uses every core. A single
 * sha256 cannot be split, so the pool hands out the biggest files first: the
 * longest job starts at once and the small ones fill the other cores.
 *
 * The worker is plain JavaScript evaluated from a string so it runs the same
 * from `dist/` and from the TypeScript sources under the test runner.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { HashAlgorithm } from './etag.js';
import { HASH_CHUNK_BYTES } from './hashFile.js';

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const fs = require('node:fs');
const crypto = require('node:crypto');
const buffer = Buffer.allocUnsafe(${HASH_CHUNK_BYTES});
parentPort.on('message', (job) => {
  let fd;
  try {
    fd = fs.openSync(job.path, 'r');
    const size = fs.fstatSync(fd).size;
    const hash = crypto.createHash(job.algorithm === 'sha256' ? 'sha256' : 'sha1');
    if (job.algorithm !== 'sha256') hash.update('blob ' + size + '\\0');
    let total = 0;
    let unreported = 0;
    for (;;) {
      const n = fs.readSync(fd, buffer, 0, buffer.length, null);
      if (n === 0) break;
      hash.update(buffer.subarray(0, n));
      total += n;
      unreported += n;
      // Report every 8 MiB, not every read: messages cost more than small reads.
      if (job.progress && unreported >= 8388608) {
        parentPort.postMessage({ id: job.id, progress: unreported });
        unreported = 0;
      }
    }
    if (job.progress && unreported > 0) parentPort.postMessage({ id: job.id, progress: unreported });
    const digest = job.algorithm !== 'sha256' && total !== size ? 'size-changed-' + total : hash.digest('hex');
    parentPort.postMessage({ id: job.id, digest, size: total });
  } catch (err) {
    parentPort.postMessage({ id: job.id, error: { message: String(err && err.message), code: err && err.code } });
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
});
`;

export interface HashJob {
  path: string;
  algorithm: HashAlgorithm;
  /** Used only to order the jobs (largest first). */
  size: number;
}

export type HashJobResult =
  | { job: HashJob; digest: string; size: number; error?: undefined }
  | { job: HashJob; error: { message: string; code?: string } };

export interface HashManyParams {
  jobs: HashJob[];
  /** Worker count; defaults to the number of cores, at most the job count. */
  concurrency?: number;
  /** Called with bytes hashed since the last call. */
  onBytes?: (bytes: number) => void;
  /** Called with running totals, for progress bars. */
  onProgress?: (event: { bytesDone: number; bytesTotal: number }) => void;
  onResult?: (result: HashJobResult) => void;
}

export interface HashPool {
  /** One call at a time per pool; each worker takes the next job as it finishes one. */
  hashMany(params: Omit<HashManyParams, 'concurrency'>): Promise<HashJobResult[]>;
  close(): Promise<void>;
}

/**
 * Starts the workers now, so a caller can boot them (tens of milliseconds
 * each) while it is still scanning for the jobs to give them.
 */
export function startHashPool(params: { concurrency?: number }): HashPool {
  const workerCount = Math.max(1, params.concurrency ?? availableParallelism());
  const workers = Array.from({ length: workerCount }, () => new Worker(WORKER_SOURCE, { eval: true }));
  return {
    hashMany: (hashParams) => hashWith({ ...hashParams, workers }),
    close: async () => {
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}

export async function hashMany(params: HashManyParams): Promise<HashJobResult[]> {
  if (params.jobs.length === 0) return [];
  const pool = startHashPool({ concurrency: Math.min(params.concurrency ?? availableParallelism(), params.jobs.length) });
  try {
    return await pool.hashMany(params);
  } finally {
    await pool.close();
  }
}

let messageId = 0;

async function hashWith(params: Omit<HashManyParams, 'concurrency'> & { workers: Worker[] }): Promise<HashJobResult[]> {
  const jobs = [...params.jobs].sort((a, b) => b.size - a.size);
  if (jobs.length === 0) return [];
  const results: HashJobResult[] = [];
  let next = 0;
  const bytesTotal = jobs.reduce((sum, job) => sum + job.size, 0);
  let bytesDone = 0;
  const onBytes =
    params.onBytes || params.onProgress
      ? (n: number): void => {
          bytesDone += n;
          params.onBytes?.(n);
          params.onProgress?.({ bytesDone, bytesTotal });
        }
      : undefined;
  await Promise.all(
    params.workers.slice(0, jobs.length).map(async (worker) => {
      while (next < jobs.length) {
        const job = jobs[next++] as HashJob;
        // Ids are unique per process, so a message can never be taken for another call's job.
        const result = await runJob({ worker, job, id: messageId++, onBytes });
        results.push(result);
        params.onResult?.(result);
      }
    }),
  );
  return results;
}

function runJob(params: {
  worker: Worker;
  job: HashJob;
  id: number;
  onBytes: ((bytes: number) => void) | undefined;
}): Promise<HashJobResult> {
  const { worker, job, id, onBytes } = params;
  return new Promise((resolve, reject) => {
    const onMessage = (msg: { id: number; progress?: number; digest?: string; size?: number; error?: { message: string; code?: string } }): void => {
      if (msg.id !== id) return;
      if (msg.progress !== undefined) {
        onBytes?.(msg.progress);
        return;
      }
      worker.off('message', onMessage);
      worker.off('error', onError);
      if (msg.error) resolve({ job, error: msg.error });
      else resolve({ job, digest: msg.digest as string, size: msg.size as number });
    };
    const onError = (err: Error): void => {
      worker.off('message', onMessage);
      reject(err);
    };
    worker.on('message', onMessage);
    worker.once('error', onError);
    worker.postMessage({ id, path: job.path, algorithm: job.algorithm, progress: onBytes !== undefined });
  });
}
