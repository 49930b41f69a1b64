/**
 * N `curl -s -o /dev/null` processes started together on one URL: the same client for every
 * server measured. The time is wall clock from the first spawn to the last exit; every client
 * must get status `expectStatus` and exactly `expectBytes` bytes, or the run throws.
 */
import { spawn } from 'node:child_process';

export interface CurlRun {
  seconds: number;
  /** Each client's own wall time, seconds. */
  perClient: number[];
}

export async function runCurlClients(params: { url: string; clients: number; expectBytes: number; expectStatus?: number; env?: NodeJS.ProcessEnv }): Promise<CurlRun> {
  const expectStatus = params.expectStatus ?? 200;
  const start = process.hrtime.bigint();
  const one = (): Promise<number> =>
    new Promise((resolve, reject) => {
      const child = spawn('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code} %{size_download}', params.url], {
        env: params.env ?? process.env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
      child.once('error', reject);
      child.once('close', (code) => {
        const seconds = Number(process.hrtime.bigint() - start) / 1e9;
        const [status, bytes] = out.trim().split(' ').map(Number);
        if (code !== 0 || status !== expectStatus || bytes !== params.expectBytes) {
          reject(new Error(`curl ${params.url}: exit ${code}, status ${status}, ${bytes} bytes (want ${expectStatus}, ${params.expectBytes}) ${err.slice(0, 500)}`));
        } else resolve(seconds);
      });
    });
  const perClient = await Promise.all(Array.from({ length: params.clients }, one));
  return { seconds: Number(process.hrtime.bigint() - start) / 1e9, perClient };
}
