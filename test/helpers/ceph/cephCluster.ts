/**
 * A real single-node Ceph cluster (no vitest here: benches use it too) with its S3 gateway (RGW) on 127.0.0.1, for the S3-store tests
 * and benches: `ceph.sh` boots it in a temp folder (about 7-20 s), `stop()` ends its daemons by
 * the pids it recorded. `cephSkipReason()` says why it cannot run here (packages missing and not
 * installable), so tests skip with that message instead of failing.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';

const here = dirname(fileURLToPath(import.meta.url));

export interface Ceph {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  pids: number[];
  /** The AWS environment a replica or client needs. */
  env: Record<string, string>;
  client: S3Client;
  createBucket(name: string): Promise<void>;
  stop(): Promise<void>;
}

let skipReason: string | undefined | null = null;

/** Undefined when Ceph can run here (installing the packages first when root); else why not. */
export function cephSkipReason(): string | undefined {
  if (skipReason !== null) return skipReason;
  const installed = spawnSync('bash', [join(here, 'install.sh')], { encoding: 'utf8', timeout: 900_000 });
  skipReason = installed.status === 0 ? undefined : `Ceph (radosgw ceph-mon ceph-osd) is not available: ${installed.stderr.trim() || `install.sh exited ${installed.status}`}`;
  return skipReason;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

/** Boots the cluster in `dir` (made if missing; its daemons' data, logs and the OSD's sparse block file). */
export async function startCephCluster(params: { dir: string }): Promise<Ceph> {
  const dir = params.dir;
  const [monPort, rgwPort] = [await freePort(), await freePort()];
  let out: string;
  try {
    out = execFileSync('bash', [join(here, 'ceph.sh'), 'start', dir, String(monPort), String(rgwPort)], { encoding: 'utf8', timeout: 180_000 });
  } catch (err) {
    execFileSync('bash', [join(here, 'ceph.sh'), 'stop', dir]);
    throw err;
  }
  const info = JSON.parse(out.trim().split('\n').pop()!) as { endpoint: string; accessKeyId: string; secretAccessKey: string; pids: number[] };
  const env = {
    AWS_ENDPOINT_URL: info.endpoint,
    AWS_ACCESS_KEY_ID: info.accessKeyId,
    AWS_SECRET_ACCESS_KEY: info.secretAccessKey,
    AWS_REGION: 'us-east-1',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    // No credential lookup may leave the machine: the SDK's chain would ask the EC2 metadata address.
    AWS_EC2_METADATA_DISABLED: 'true',
  };
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const client = new S3Client({
    endpoint: info.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: info.accessKeyId, secretAccessKey: info.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  return {
    ...info,
    env,
    client,
    async createBucket(name) {
      await client.send(new CreateBucketCommand({ Bucket: name }));
    },
    async stop() {
      client.destroy();
      execFileSync('bash', [join(here, 'ceph.sh'), 'stop', dir]);
    },
  };
}
