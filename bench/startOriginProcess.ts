/**
 * Starts the test origin in a child process (bench/originProcess.ts, run through tsx) and
 * talks to it over IPC: where it listens, what it serves, and its byte counters.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { OriginMessage, OriginReady, OriginRequest, OriginStatsMessage } from './originMessages.js';

const ENTRY = fileURLToPath(new URL('./originProcess.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface OriginProcess {
  info: OriginReady;
  pid: number;
  stats(): Promise<OriginStatsMessage>;
  /** Zeroes the counters; resolves with the (zeroed) stats once the origin did it. */
  reset(): Promise<OriginStatsMessage>;
  /** Blob bodies at about this rate from now on (undefined: full speed); resolves once applied. */
  throttle(bytesPerSecond: number | undefined): Promise<OriginStatsMessage>;
  close(): Promise<void>;
}

export async function startOriginProcess(params: { repoId: string; path: string; size: number; seed: string; env: NodeJS.ProcessEnv }): Promise<OriginProcess> {
  const child = fork(ENTRY, [params.repoId, params.path, String(params.size), params.seed], {
    cwd: ROOT,
    env: params.env,
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // Never leave the origin behind if the bench dies without reaching close().
  const killOnExit = (): void => void child.kill('SIGKILL');
  process.once('exit', killOnExit);
  void exited.then(() => process.off('exit', killOnExit));
  // A 1 GiB file is generated (once per machine) and hashed before the origin answers.
  const info = await Promise.race([
    nextMessage(child, 'ready') as Promise<OriginReady>,
    exited.then(() => {
      throw new Error('the origin process exited before it was ready');
    }),
  ]);
  const ask = async (request: OriginRequest): Promise<OriginStatsMessage> => {
    const answer = nextMessage(child, 'stats') as Promise<OriginStatsMessage>;
    child.send(request);
    return answer;
  };
  return {
    info,
    pid: child.pid ?? 0,
    stats: () => ask({ type: 'stats' }),
    reset: () => ask({ type: 'reset' }),
    throttle: (bytesPerSecond) => ask({ type: 'throttle', bytesPerSecond }),
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.disconnect();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

function nextMessage(child: ChildProcess, type: OriginMessage['type']): Promise<OriginMessage> {
  return new Promise((resolve) => {
    const onMessage = (message: OriginMessage): void => {
      if (message.type !== type) return;
      child.off('message', onMessage);
      resolve(message);
    };
    child.on('message', onMessage);
  });
}
