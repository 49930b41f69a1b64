/** `startCephCluster` in a temp folder removed after the test file (see cephCluster.ts). */
import { join } from 'node:path';
import { makeTempDir } from '../tempDir.js';
import { startCephCluster, type Ceph } from './cephCluster.js';

export { cephSkipReason, type Ceph } from './cephCluster.js';

export async function startCeph(): Promise<Ceph> {
  return startCephCluster({ dir: join(await makeTempDir({ prefix: 'hubcache-ceph-' }), 'ceph') });
}
