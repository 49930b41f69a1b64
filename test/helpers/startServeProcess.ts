/** `hubcache serve` as a real process (the built CLI) on 127.0.0.1 port 0; resolves once it listens. */
import { spawn, type ChildProcess } from 'node:child_process';
import { CLI_PATH } from './runCli.js';

export interface ServeProcess {
  child: ChildProcess;
  url: string;
  stderr(): string;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

export function startServeProcess(params: { args: string[]; env?: Record<string, string> }): Promise<ServeProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_PATH, 'serve', '--host', '127.0.0.1', '--port', '0', '--json', ...params.args], {
      env: { ...process.env, HF_HUB_DISABLE_PROGRESS_BARS: '1', ...params.env },
    });
    let stdout = '';
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      let parsed: { url?: string } | undefined;
      try {
        parsed = JSON.parse(stdout) as { url?: string };
      } catch {
        return;
      }
      if (parsed.url) {
        resolve({
          child,
          url: parsed.url,
          stderr: () => stderr,
          stop: async () => {
            if (child.exitCode === null) child.kill('SIGTERM');
            return exited;
          },
        });
      }
    });
    void exited.then((code) => reject(new Error(`serve exited early (${code}): ${stderr}`)));
  });
}
