/** Worker entry for `scanCache`: scans the repo folders it is given and posts the result. */
import { parentPort, workerData } from 'node:worker_threads';
import type { RepoJob } from './cacheScan.js';
import { scanRepos } from './scanRepo.js';
import { scanUsualRepos } from './repoSummaries.js';

const { jobs, summary, native } = workerData as { jobs: RepoJob[]; summary: boolean; native?: boolean };
// As on the caller's thread (scanCache): the addon's summary of the usual repos, the walk for the rest.
const { repos, rest } = summary && native !== false ? scanUsualRepos({ jobs }) : { repos: [], rest: jobs };
parentPort?.postMessage([...repos, ...scanRepos({ jobs: rest, summary, native })]);
