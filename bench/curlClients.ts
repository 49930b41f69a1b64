/**
 * N `curl -s -o /dev/null` processes started together on one URL: the same client for every
 * server measured. The time is wall clock from the first spawn to the last exit; every client
 * must get status `expectStatus` and exactly `expectBytes` bytes, or the run throws. With GNU
 * time installed each curl runs under it, so the clients' own CPU time is known too: on a machine
 * whose cores the clients share with the server, what a client costs bounds what any server gets.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { usageMethod } from './processUsage.js';

export interface CurlRun {
  seconds: number;
  /** Each client's own wall time, seconds. */
  perClient: number[];
  /** user + sys seconds of all the curl processes together (GNU time only). */
  clientCpu?: number;
}

export async function runCurlClients(params: { url: string; clients: number; expectBytes: number; expectStatus?: number; env?: NodeJS.ProcessEnv }): Promise<CurlRun> {
  const expectStatus = params.expectStatus ?? 200;
  const start = process.hrtime.bigint();
  const timed = usageMethod() === 'gnu-time';
  const usageFiles: string[] = [];
  const one = (): Promise<number> =>
    new Promise((resolve, reject) => {
      const curl = ['curl', '-s', '-o', '/dev/null', '-w', '%{http_code} %{size_download}', params.url];
      const usageFile = join(tmpdir(), `hubcache-bench-curl-${process.pid}-${randomBytes(4).toString('hex')}`);
      if (timed) usageFiles.push(usageFile);
      const [command, ...args] = timed ? ['/usr/bin/time', '-f', '%U %S', '-o', usageFile, ...curl] : curl;
      const child = spawn(command as string, args, {
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
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (!timed) return { seconds, perClient };
  let clientCpu = 0;
  for (const file of usageFiles) {
    const match = /(\d+\.\d+) (\d+\.\d+)\s*$/.exec((await readFile(file, 'utf8').catch(() => '')).trim());
    clientCpu += match ? Number(match[1]) + Number(match[2]) : NaN;
    await rm(file, { force: true });
  }
  return { seconds, perClient, clientCpu };
}
