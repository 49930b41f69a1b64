/**
 * Whole-process wall time plus the child's CPU time and peak RSS. Uses GNU
 * `/usr/bin/time -f` (Debian package `time`) when present; otherwise polls
 * /proc/<pid>/status for VmHWM (the kernel's own peak-RSS mark) and reports
 * no CPU times. Either way the wall clock is ours, around the whole process.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { ProcessRun } from './measure.js';

export interface UsageRun extends ProcessRun {
  userSeconds?: number;
  sysSeconds?: number;
  /** Peak resident set size in KiB (ru_maxrss, or VmHWM when polled). */
  maxRssKiB?: number;
  rssMethod: 'gnu-time' | 'proc-vmhwm';
}

const GNU_TIME = '/usr/bin/time';

export function usageMethod(): 'gnu-time' | 'proc-vmhwm' {
  return existsSync(GNU_TIME) && process.env.HUBCACHE_BENCH_NO_GNU_TIME !== '1' ? 'gnu-time' : 'proc-vmhwm';
}

export async function timeProcessWithUsage(params: { command: string; args: string[]; env?: NodeJS.ProcessEnv; cwd?: string }): Promise<UsageRun> {
  const method = usageMethod();
  const usageFile = join(tmpdir(), `hubcache-bench-usage-${process.pid}-${randomBytes(4).toString('hex')}`);
  const command = method === 'gnu-time' ? GNU_TIME : params.command;
  const args = method === 'gnu-time' ? ['-f', '%U %S %M', '-o', usageFile, params.command, ...params.args] : params.args;
  const run = await new Promise<UsageRun>((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(command, args, { env: params.env ?? process.env, cwd: params.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let hwm: number | undefined;
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    let timer: NodeJS.Timeout | undefined;
    if (method === 'proc-vmhwm' && child.pid !== undefined) {
      const pid = child.pid;
      const poll = (): void => {
        void peakRssKiB(pid).then((kib) => {
          if (kib !== undefined) hwm = Math.max(hwm ?? 0, kib);
        });
      };
      timer = setInterval(poll, 20);
    }
    child.on('error', reject);
    child.on('close', (code) => {
      if (timer) clearInterval(timer);
      resolve({ seconds: Number(process.hrtime.bigint() - start) / 1e9, code, stdout, stderr, rssMethod: method, ...(hwm !== undefined ? { maxRssKiB: hwm } : {}) });
    });
  });
  if (method === 'gnu-time') {
    const text = await readFile(usageFile, 'utf8').catch(() => '');
    await rm(usageFile, { force: true });
    // The last line holds the figures (a "Command exited with non-zero status" line may precede it).
    const match = /(\d+\.\d+) (\d+\.\d+) (\d+)\s*$/.exec(text.trim());
    if (match) {
      run.userSeconds = Number(match[1]);
      run.sysSeconds = Number(match[2]);
      run.maxRssKiB = Number(match[3]);
    }
  }
  return run;
}

/** A running process's peak resident set size so far, KiB (VmHWM; undefined when it is gone). */
export async function peakRssKiB(pid: number): Promise<number | undefined> {
  const match = /VmHWM:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8').catch(() => ''));
  return match ? Number(match[1]) : undefined;
}
