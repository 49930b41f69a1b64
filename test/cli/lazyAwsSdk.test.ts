/**
 * The AWS SDK (tens of modules) loads only where a shared store is used: not for `--version`,
 * `--help`, a `serve` without `--store`, nor for `import 'hubcache'`. Each case runs as a real
 * process traced by test/helpers/moduleTrace (every ES module resolved, every CommonJS module in the
 * require cache at exit); a control case shows the trace does see the SDK when it loads.
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/runCli.js';
import { startServeProcess } from '../helpers/startServeProcess.js';
import { makeTempDir } from '../helpers/tempDir.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const REGISTER = fileURLToPath(new URL('../helpers/moduleTrace/register.mjs', import.meta.url));

async function traceEnv(): Promise<{ env: Record<string, string>; sdkModules: () => Promise<string[]> }> {
  const file = join(await makeTempDir(), 'modules.txt');
  return {
    env: { HUBCACHE_MODULE_TRACE: file, NODE_OPTIONS: `--import=${REGISTER}` },
    sdkModules: async () => {
      const lines = (await readFile(file, 'utf8')).split('\n');
      expect(lines.some((line) => line.includes('/dist/cli/main.js') || line.includes('/dist/index.js'))).toBe(true);
      return [...new Set(lines.filter((line) => /node_modules\/@aws-sdk\//.test(line)))];
    },
  };
}

function runNode(params: { code: string; env: Record<string, string> }): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', params.code], { cwd: ROOT, env: { ...process.env, ...params.env }, stdio: 'ignore' });
    child.on('error', reject);
    child.on('close', resolve);
  });
}

describe('the AWS SDK loads only with a store', () => {
  it('hubcache --version, serve --help and push --help do not load it', async () => {
    for (const args of [['--version'], ['serve', '--help'], ['push', '--help'], ['verify', '--help']]) {
      const trace = await traceEnv();
      const run = await runCli({ args, env: trace.env });
      expect(run.code, run.stderr).toBe(0);
      expect(await trace.sdkModules(), args.join(' ')).toEqual([]);
    }
  });

  it('serve without --store does not load it', async () => {
    const trace = await traceEnv();
    const serve = await startServeProcess({ args: ['--cache-dir', join(await makeTempDir(), 'hub'), '--offline', '--no-dashboard'], env: trace.env });
    // A request first: it goes through the routes, and by its answer serve handles SIGTERM (exits 0, so the trace is written).
    const answer = await fetch(`${serve.url}/api/models/acme/m/revision/main`);
    expect(answer.status).toBe(504);
    expect(await serve.stop(), serve.stderr()).toBe(0);
    expect(await trace.sdkModules()).toEqual([]);
  });

  it("import('hubcache') does not load it; the store's functions are there and load it when called", async () => {
    const trace = await traceEnv();
    const code = `const api = await import('hubcache');
for (const name of ['createS3Store', 'openS3Connection', 'listStore', 'verifyStore', 'pushToStore', 'pullFromStore', 'parseS3Location', 'deleteDamagedObject', 'runStoreFix', 'planStoreFix']) {
  if (typeof api[name] !== 'function') process.exit(3);
}
if (api.DEFAULT_PART_SIZE !== 16 * 1024 * 1024) process.exit(4);`;
    expect(await runNode({ code, env: trace.env })).toBe(0);
    expect(await trace.sdkModules()).toEqual([]);

    // The control: calling one loads the SDK, and the trace sees it (an unreachable endpoint answers no).
    const control = await traceEnv();
    const calls = `const api = await import('hubcache');
await api.openS3Connection({ location: api.parseS3Location({ url: 's3://bucket' }), settings: { region: 'us-east-1', forcePathStyle: true, endpoint: 'http://127.0.0.1:9' }, probe: false }).catch(() => undefined);`;
    expect(await runNode({ code: calls, env: { ...control.env, AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'y', AWS_EC2_METADATA_DISABLED: 'true' } })).toBe(0);
    expect((await control.sdkModules()).length).toBeGreaterThan(0);
  });
});
