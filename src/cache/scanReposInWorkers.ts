/**
 * Runs the repo walk on worker threads: the repos are dealt round-robin to
 * `threads` workers, each walks its share and posts the reports back.
 */
import { Worker } from 'node:worker_threads';
import type { CachedRepo, RepoJob } from './cacheScan.js';

export interface ScanReposInWorkersParams {
  jobs: RepoJob[];
  threads: number;
  summary: boolean;
}

export async function scanReposInWorkers(params: ScanReposInWorkersParams): Promise<CachedRepo[]> {
  const chunks: RepoJob[][] = Array.from({ length: params.threads }, () => []);
  params.jobs.forEach((job, i) => (chunks[i % params.threads] as RepoJob[]).push(job));
  const url = new URL('./scanWorker.js', import.meta.url);
  const parts = await Promise.all(
    chunks.map(
      (jobs) =>
        new Promise<CachedRepo[]>((resolveChunk, reject) => {
          const worker = new Worker(url, { workerData: { jobs, summary: params.summary } });
          worker.once('message', (repos: CachedRepo[]) => {
            resolveChunk(repos);
            void worker.terminate();
          });
          worker.once('error', reject);
        }),
    ),
  );
  return parts.flat();
}
