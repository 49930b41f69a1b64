/**
 * The stack under docker-compose: `up` and the results its one-shot services print, and hubcache
 * (the image) run on the stack's volume.
 */
import { join } from 'node:path';
import { DOCKER, docker, run, tail, type RunResult } from './engine.js';
import { HUBCACHE_IMAGE, ONE_SHOT, PROJECT, VOLUME } from './e2eSettings.js';
import { MOUNT } from './stackFile.js';
import { check, ok } from './stepLog.js';

/** The JSON line a service printed (E2E-RESULT); the checks read the fields they need. */
export type ServiceResult = Record<string, any>;

/** Debian's compose v1 (`docker-compose`), else the v2 plugin (`docker compose`); the stack file suits both. */
let composeCommand: string[] | undefined;
export async function compose(stackDir: string, args: string[], allowFail = false): Promise<RunResult> {
  composeCommand ??= (await run({ command: 'docker-compose', args: ['version'], allowFail: true, quiet: true }).catch(() => ({ code: 1 }))).code === 0 ? ['docker-compose'] : [DOCKER, 'compose'];
  const [command, ...prefix] = composeCommand;
  return run({ command: command!, args: [...prefix, '-p', PROJECT, '-f', join(stackDir, 'docker-compose.yml'), ...args], allowFail });
}

async function dumpLogs(stackDir: string): Promise<void> {
  const logs = await compose(stackDir, ['logs', '--no-color', '--tail', '40'], true);
  console.log(logs.stdout + logs.stderr);
}

/** `up -d`, waits for the one-shot services, checks their exit codes and that the mirror runs. */
export async function upAndCollect(stackDir: string): Promise<Record<string, ServiceResult>> {
  const up = await compose(stackDir, ['up', '-d'], true);
  if (up.code !== 0) {
    await dumpLogs(stackDir);
    throw new Error(`compose up failed:\n${tail(up.stderr)}`);
  }
  // One `docker ps` for the project's containers by their compose labels (each docker-compose
  // call costs seconds of Python start-up).
  const listed = await docker(['ps', '-a', '--filter', `label=com.docker.compose.project=${PROJECT}`, '--format', '{{.ID}} {{.Label "com.docker.compose.service"}}'], { quiet: true });
  const ids = new Map(listed.stdout.trim().split('\n').map((line) => [line.split(' ')[1]!, line.split(' ')[0]!]));
  const results: Record<string, ServiceResult> = {};
  for (const service of ONE_SHOT) {
    const id = ids.get(service);
    if (!id) {
      await dumpLogs(stackDir);
      throw new Error(`${service} has no container`);
    }
    const code = (await docker(['wait', id], { quiet: true })).stdout.trim();
    const logs = await docker(['logs', id], { quiet: true });
    if (code !== '0') {
      await dumpLogs(stackDir);
      throw new Error(`${service} exited ${code}`);
    }
    const [startedAt, finishedAt] = (await docker(['inspect', '-f', '{{.State.StartedAt}} {{.State.FinishedAt}}', id], { quiet: true })).stdout.trim().split(' ');
    ok(`${service} exited 0 (ran ${((Date.parse(finishedAt!) - Date.parse(startedAt!)) / 1000).toFixed(1)} s)`);
    const line = (logs.stdout + logs.stderr).split('\n').find((l) => l.startsWith('E2E-RESULT '));
    if (line) results[service] = JSON.parse(line.slice('E2E-RESULT '.length)) as ServiceResult;
    if (service === 'models') process.stdout.write(tail(logs.stdout + logs.stderr, 12).replace(/^/gm, '   | ') + '\n');
  }
  const mirror = ids.get('mirror') ?? '';
  check((await docker(['inspect', '-f', '{{.State.Running}}', mirror], { quiet: true, allowFail: true })).stdout.trim() === 'true', 'mirror is running');
  return results;
}

/** Runs hubcache (the image) on the stack's volume. */
export function inVolume(args: string[], options: { extraMounts?: string[]; readOnly?: boolean; allowFail?: boolean } = {}): Promise<RunResult> {
  const mounts = [`${VOLUME}:${MOUNT}${options.readOnly ? ':ro' : ''}`, ...(options.extraMounts ?? [])].flatMap((m) => ['-v', m]);
  return docker(['run', '--rm', ...mounts, HUBCACHE_IMAGE, ...args], { allowFail: options.allowFail });
}
