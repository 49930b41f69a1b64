/** Worker entry for `scanCache`: scans the repo folders it is given and posts the result. */
import { parentPort, workerData } from 'node:worker_threads';
import { scanRepos, type RepoJob } from './scanCache.js';

const { jobs } = workerData as { jobs: RepoJob[] };
parentPort?.postMessage(scanRepos({ jobs }));
