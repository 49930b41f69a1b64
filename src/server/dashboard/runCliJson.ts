/**
 * Runs a hubcache command (`doctor`, `verify`) as a child process and returns its `--json`
 * result. A child, not a call: both walk (and verify hashes) the whole cache with synchronous
 * fs calls, which must not stall the server's event loop or its clients' transfers.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The installed command; `src/server/dashboard/` and `dist/server/dashboard/` are both three levels down. */
const BIN_PATH = fileURLToPath(new URL('../../../bin/hubcache.cjs', import.meta.url));

export interface CliJsonResult {
  code: number | null;
  /** stdout parsed as JSON, or undefined when it was not JSON. */
  value: unknown;
  stderr: string;
}

export function runCliJson(params: { args: string[]; cacheDir: string; signal?: AbortSignal }): Promise<CliJsonResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN_PATH, ...params.args, '--json', '--cache-dir', params.cacheDir], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, HF_HUB_DISABLE_PROGRESS_BARS: '1' },
      ...(params.signal ? { signal: params.signal } : {}),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      // Only the tail matters for a message; a chatty child must not grow the server's memory.
      stderr = (stderr + d).slice(-4096);
    });
    child.once('error', reject);
    child.once('close', (code) => {
      let value: unknown;
      try {
        value = JSON.parse(stdout);
      } catch {
        value = undefined;
      }
      resolve({ code, value, stderr });
    });
  });
}
