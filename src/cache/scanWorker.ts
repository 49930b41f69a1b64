/** Worker entry for `scanCache`: scans the repo folders it is given and posts the result. */
import { parentPort, workerData } from 'node:worker_threads';
import type { RepoJob } from './cacheScan.js';
import { scanRepos } from './scanRepo.js';

const { jobs, summary, native } = workerData as { jobs: RepoJob[]; summary: boolean; native?: boolean };
parentPort?.postMessage(scanRepos({ jobs, summary, native }));
