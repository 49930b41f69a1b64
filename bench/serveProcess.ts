/**
 * A real `node dist/cli/main.js serve` process on 127.0.0.1 (a free port chosen by the kernel),
 * in front of an upstream, over a cache dir; stopped by its pid with SIGTERM (the graceful path
 * `docker stop` takes).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { stopChild } from './benchServer.js';

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));

export interface ServeProcess {
  url: string;
  pid: number;
  stderr(): string;
  close(): Promise<void>;
}

export async function startServeProcess(params: { upstream: string; cacheDir: string; env: NodeJS.ProcessEnv; extraArgs?: string[]; nodeArgs?: string[] }): Promise<ServeProcess> {
  // nodeArgs: e.g. ['--cpu-prof', '--cpu-prof-dir=D'] to profile the server (not allowed in NODE_OPTIONS).
  const args = [...(params.nodeArgs ?? []), CLI, 'serve', '--port', '0', '--upstream', params.upstream, '--cache-dir', params.cacheDir, '--no-log', '--json', ...(params.extraArgs ?? [])];
  const child = spawn(process.execPath, args, { env: params.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d.length + stderr.length > 100_000 ? '' : d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('error', () => undefined);
  const killOnExit = (): void => void child.kill('SIGKILL');
  process.once('exit', killOnExit);
  void exited.then(() => process.off('exit', killOnExit));
  // `--json` prints {"url": ...} once the socket listens.
  const url = await new Promise<string>((resolve, reject) => {
    const look = (): void => {
      const match = /"url":\s*"([^"]+)"/.exec(stdout);
      if (match?.[1]) {
        child.stdout.off('data', look);
        resolve(match[1]);
      }
    };
    child.stdout.on('data', look);
    void exited.then(() => reject(new Error(`hubcache serve exited before listening: ${stderr.slice(0, 2000)}`)));
  });
  return {
    url,
    pid: child.pid ?? 0,
    stderr: () => stderr,
    close: () => stopChild(child, exited, 'SIGTERM'),
  };
}
