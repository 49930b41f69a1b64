/**
 * The Docker engine for the e2e run, and the commands it runs. Without systemd the engine is a
 * background `dockerd --storage-driver=overlay2` this run starts and stops by its pid; an engine
 * that already answers is used and left running. Its data root (/var/lib/docker) is kept between
 * runs, so the base images stay cached there.
 */
import { spawn } from 'node:child_process';
import { existsSync, openSync } from 'node:fs';

/** Debian's client speaks the engine's API version; any `docker` on PATH otherwise. */
export const DOCKER = existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker';

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command; prints it first. Rejects on a non-zero exit unless `allowFail`. */
export async function run(params: { command: string; args: string[]; input?: NodeJS.ReadableStream | string; env?: NodeJS.ProcessEnv; allowFail?: boolean; quiet?: boolean; cwd?: string }): Promise<RunResult> {
  if (!params.quiet) console.log(`  $ ${[params.command, ...params.args].join(' ')}`);
  const child = spawn(params.command, params.args, { cwd: params.cwd, env: { ...process.env, DOCKER_BUILDKIT: '0', ...params.env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  if (typeof params.input === 'string') child.stdin.end(params.input);
  else if (params.input) params.input.pipe(child.stdin);
  else child.stdin.end();
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (status) => resolve(status));
  });
  if (code !== 0 && !params.allowFail) {
    throw new Error(`${params.command} ${params.args.join(' ')} exited ${code}\n${tail(stderr || stdout)}`);
  }
  return { code, stdout, stderr };
}

export function docker(args: string[], options: { allowFail?: boolean; quiet?: boolean; input?: NodeJS.ReadableStream | string } = {}): Promise<RunResult> {
  return run({ command: DOCKER, args, ...options });
}

export interface Engine {
  /** Whether this run started it (and so stops it). */
  started: boolean;
  stop(): Promise<void>;
}

export async function startEngine(params: { logFile: string }): Promise<Engine> {
  if ((await docker(['info'], { allowFail: true, quiet: true })).code === 0) {
    console.log('  engine: already running, used as is (not stopped at the end)');
    return { started: false, stop: async () => undefined };
  }
  const log = openSync(params.logFile, 'a');
  const child = spawn('dockerd', ['--storage-driver=overlay2'], { stdio: ['ignore', log, log], detached: true });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const pid = child.pid;
  if (pid === undefined) throw new Error('dockerd did not start (is docker.io installed?)');
  console.log(`  engine: dockerd started, pid ${pid}, log ${params.logFile}`);
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    process.kill(pid, 'SIGTERM');
    const timer = setTimeout(() => process.kill(pid, 'SIGKILL'), 30_000);
    await exited;
    clearTimeout(timer);
    console.log(`  engine: dockerd (pid ${pid}) stopped`);
  };
  const deadline = Date.now() + 90_000;
  while ((await docker(['info'], { allowFail: true, quiet: true })).code !== 0) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`dockerd did not come up; see ${params.logFile}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return { started: true, stop };
}

export function tail(text: string, lines = 30): string {
  return text.trim().split('\n').slice(-lines).join('\n');
}
