/**
 * Runs the repo walk on worker threads: the repos are dealt round-robin to
 * `threads` workers, each walks its share and posts the reports back.
 */
import { Worker } from 'node:worker_threads';
import { HubcacheError } from '../errors.js';
import type { CachedRepo, RepoJob } from './cacheScan.js';

export interface ScanReposInWorkersParams {
  jobs: RepoJob[];
  threads: number;
  summary: boolean;
  /** false: the workers read folders in JavaScript even when the addon is built. */
  native?: boolean;
  /** The worker script (default: scanWorker.js beside this file); tests pass one that dies. */
  workerUrl?: URL;
}

export async function scanReposInWorkers(params: ScanReposInWorkersParams): Promise<CachedRepo[]> {
  const chunks: RepoJob[][] = Array.from({ length: params.threads }, () => []);
  params.jobs.forEach((job, i) => (chunks[i % params.threads] as RepoJob[]).push(job));
  const url = params.workerUrl ?? new URL('./scanWorker.js', import.meta.url);
  const workers: Worker[] = [];
  try {
    const parts = await Promise.all(
      chunks.map(
        (jobs) =>
          new Promise<CachedRepo[]>((resolveChunk, reject) => {
            const worker = new Worker(url, { workerData: { jobs, summary: params.summary, native: params.native } });
            workers.push(worker);
            worker.once('message', (repos: CachedRepo[]) => resolveChunk(repos));
            worker.once('error', reject);
            // A worker that dies without posting (process.exit in it, an abort, a terminate from
            // elsewhere) emits only 'exit': without this the scan would wait forever. After the
            // message or an 'error' the promise is settled and this reject is a no-op.
            worker.once('exit', (code) => {
              reject(new HubcacheError({ code: 'E_INTERNAL', message: `a scan worker exited with code ${code} before posting its result`, data: { exitCode: code } }));
            });
          }),
      ),
    );
    return parts.flat();
  } finally {
    // Done or failed: no worker outlives the scan (one that failed may leave siblings still walking).
    await Promise.all(workers.map((worker) => worker.terminate()));
  }
}
