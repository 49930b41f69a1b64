/**
 * kill -9 at random points: every rerun resumes from what the killed one
 * left (its partial and state), so the origin serves little more than one copy.
 */
import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOrigin, type Origin } from '../helpers/origin/createOrigin.js';
import { linearRepo } from '../helpers/origin/fixture.js';
import { makeTempDir } from '../helpers/tempDir.js';
import { sha256File } from '../helpers/sha256File.js';
import { CLI_PATH, runCli } from '../helpers/runCli.js';

const SIZE = 256 * 1024 * 1024;
let plainOrigin: Origin;
/** Its CDN on https (self-signed, trusted through NODE_EXTRA_CA_CERTS): the real path of LFS bytes. */
let tlsOrigin: Origin;

beforeAll(async () => {
  const fixture = { repos: [linearRepo({ repoId: 'acme/resume', commits: [{ files: [{ path: 'model.gguf', source: { size: SIZE, seed: 'resume-256' } }] }] })] };
  plainOrigin = await createOrigin({ fixture });
  tlsOrigin = await createOrigin({ fixture, cdnTls: true });
}, 120_000);
afterAll(async () => {
  await plainOrigin?.close();
  await tlsOrigin?.close();
});

function clientEnv(origin: Origin): Record<string, string> {
  return { HF_ENDPOINT: origin.url, ...(origin.caFile ? { NODE_EXTRA_CA_CERTS: origin.caFile } : {}) };
}

/**
 * Starts a download and SIGKILLs it `ms` after its partial file exists (counting from the
 * partial, not from the spawn, so a slow machine's start-up cannot make every kill land before
 * the first byte), but never before the origin has begun sending this run's body (on a loaded
 * machine a TLS start-up can outlast the whole window); resolves when it is gone.
 */
function startAndKill(params: { origin: Origin; cacheDir: string; ms: number; connections: string }): Promise<void> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI_PATH, 'download', 'acme/resume', 'model.gguf', '--connections', params.connections, '--cache-dir', params.cacheDir], {
      env: { ...process.env, ...clientEnv(params.origin), HF_HUB_DISABLE_PROGRESS_BARS: '1' },
      stdio: 'ignore',
    });
    const blobsDir = join(params.cacheDir, 'models--acme--resume', 'blobs');
    const servedBefore = params.origin.stats.bodyBytes;
    let timer: NodeJS.Timeout | undefined;
    let done = false;
    const poll = async (): Promise<void> => {
      while (!done) {
        const names = await readdir(blobsDir).catch(() => [] as string[]);
        if (names.some((n) => n.endsWith('.incomplete'))) {
          timer = setTimeout(() => void killOnceSending(), Math.max(0, params.ms - 250));
          return;
        }
        await new Promise((r) => setTimeout(r, 25));
      }
    };
    const killOnceSending = async (): Promise<void> => {
      while (!done && params.origin.stats.bodyBytes <= servedBefore) await new Promise((r) => setTimeout(r, 10));
      child.kill('SIGKILL');
    };
    void poll();
    child.on('exit', () => {
      done = true;
      clearTimeout(timer);
      resolve();
    });
  });
}

// Deterministic "random" kill points, so a failure can be replayed.
function killPoints(seed: number): number[] {
  let x = seed;
  return Array.from({ length: 10 }, () => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return 250 + (x % 700);
  });
}

describe.each([
  { connections: '1', seed: 7, scheme: 'http' },
  { connections: '4', seed: 11, scheme: 'http' },
  { connections: '1', seed: 13, scheme: 'https' },
  { connections: '4', seed: 17, scheme: 'https' },
])('kill -9 at 10 points, --connections $connections, CDN over $scheme', ({ connections, seed, scheme }) => {
  it('resumes each time; the final blob verifies and the origin served at most 1.25x the file', async () => {
    const origin = scheme === 'https' ? tlsOrigin : plainOrigin;
    const cacheDir = join(await makeTempDir(), 'hub');
    const expected = origin.file({ repoId: 'acme/resume', path: 'model.gguf' });
    // ~24 MiB/s in total: a full copy takes ~11 s, so all 10 runs are killed part way through.
    origin.faults.add({ kind: 'trickle', bytesPerSecond: (24 * 1024 * 1024) / Number(connections), match: { path: 'model.gguf' }, times: Infinity });
    origin.stats.reset();
    for (const ms of killPoints(seed)) await startAndKill({ origin, cacheDir, ms, connections });
    const partials = (await readdir(join(cacheDir, 'models--acme--resume', 'blobs'))).filter((n) => n.endsWith('.incomplete'));
    // Still unfinished after 10 kills, and the runs left one partial between them, not ten.
    expect(partials.length).toBe(1);
    const servedBeforeFinal = origin.stats.bytesByBlob.get(expected.etag) ?? 0;
    expect(servedBeforeFinal).toBeGreaterThan(0);
    expect(servedBeforeFinal).toBeLessThan(SIZE);
    const final = await runCli({ args: ['download', 'acme/resume', 'model.gguf', '--json', '--connections', connections, '--cache-dir', cacheDir], env: clientEnv(origin), timeoutMs: 120_000 });
    origin.faults.clear();
    expect(final.code, final.stderr).toBe(0);
    const served = origin.stats.bytesByBlob.get(expected.etag) ?? 0;
    expect(served).toBeGreaterThanOrEqual(SIZE);
    expect(served / SIZE).toBeLessThanOrEqual(1.25);
    console.info(`--connections ${connections}, ${scheme}: served ${(served / SIZE).toFixed(3)}x the file over 10 kills and the final run`);
    expect(await sha256File(final.json().path)).toBe(expected.etag);
    const left = await readdir(join(cacheDir, 'models--acme--resume', 'blobs'));
    expect(left).toEqual([expected.etag]);
    const verify = await runCli({ args: ['verify', '--cache-dir', cacheDir] });
    expect(verify.code, verify.stdout).toBe(0);
  }, 180_000);
});
