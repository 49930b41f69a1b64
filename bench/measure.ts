/** Timing helpers: whole-process wall time, medians, peak RSS via /usr/bin/time-like polling. */
import { spawn } from 'node:child_process';

export interface ProcessRun {
  seconds: number;
  code: number | null;
  stdout: string;
  stderr: string;
}

export function timeProcess(params: { command: string; args: string[]; env?: NodeJS.ProcessEnv; cwd?: string }): Promise<ProcessRun> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(params.command, params.args, { env: params.env ?? process.env, cwd: params.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      resolve({ seconds: Number(process.hrtime.bigint() - start) / 1e9, code, stdout, stderr });
    });
  });
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Runs the competitors interleaved (a, b, a, b...) so machine noise hits both alike. */
export async function interleaved(params: {
  rounds: number;
  runs: Record<string, () => Promise<ProcessRun>>;
}): Promise<Record<string, { median: number; all: number[]; last: ProcessRun }>> {
  const out: Record<string, { median: number; all: number[]; last: ProcessRun }> = {};
  for (let i = 0; i < params.rounds; i++) {
    for (const [name, run] of Object.entries(params.runs)) {
      const result = await run();
      if (result.code !== 0) throw new Error(`${name} failed (exit ${result.code}): ${result.stderr.slice(0, 2000)}`);
      const entry = out[name] ?? { median: 0, all: [], last: result };
      entry.all.push(result.seconds);
      entry.last = result;
      out[name] = entry;
    }
  }
  for (const entry of Object.values(out)) entry.median = median(entry.all);
  return out;
}
