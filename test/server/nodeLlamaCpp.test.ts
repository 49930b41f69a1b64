/**
 * node-llama-cpp's model downloader through a real mirror, in child processes as users run it.
 * What its source (3.22.1, dist/utils/parseModelUri.js, createModelDownloader.js; ipull 3.9) does:
 * - endpoint: `endpoints.huggingFace` option, else `MODEL_ENDPOINT`, else `HF_ENDPOINT`;
 * - `hf:user/model:QUANT` GETs `v2/{user}/{model}/manifests/{QUANT}` with `User-Agent: llama-cpp`
 *   (needs `ggufFile.rfilename`), then downloads `resolve/main/{rfilename}?download=true`;
 *   `hf:user/model/file.gguf` goes straight to `resolve/main/{file}?download=true`;
 * - ipull first GETs the whole URL for its size and `Accept-Ranges` (never reading that body), then
 *   splits the file into 5 MiB chunks fetched by 3 parallel ranged GETs (`bytes=a-b`, 206 expected).
 * So a 12 MiB file is fetched over several ranged connections, which may join the fill that
 * ipull's first GET started (readers follow the fill on disk, so the unread GET holds nobody back).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOrigin, type Origin } from '../helpers/origin/createOrigin.js';
import { linearRepo } from '../helpers/origin/fixture.js';
import { installNodeLlamaCpp, type NodeLlamaCppInstall } from '../helpers/installNodeLlamaCpp.js';
import { makeTempDir } from '../helpers/tempDir.js';
import { sha256File } from '../helpers/sha256File.js';
import { startMirror, type Mirror } from '../helpers/startMirror.js';
import type { RequestLog } from '../../src/server/createApp.js';

const REPO = 'acme/tiny-GGUF';
const Q4 = 'tiny-Q4_K_M.gguf';
const Q8 = 'tiny-Q8_0.gguf';
const MiB = 1024 * 1024;

let install: NodeLlamaCppInstall;
let origin: Origin;
let mirror: Mirror;
const mirrorLog: RequestLog[] = [];

beforeAll(async () => {
  install = await installNodeLlamaCpp();
  if (!install.ok) return;
  origin = await createOrigin({
    fixture: {
      repos: [
        linearRepo({
          repoId: REPO,
          commits: [
            {
              files: [
                { path: 'README.md', source: '# tiny GGUF' },
                // Not real GGUF: the downloader never parses what it fetches.
                { path: Q4, source: { size: 12 * MiB, seed: 'nlc-q4' } },
                { path: Q8, source: { size: 7 * MiB + 123, seed: 'nlc-q8' } },
              ],
            },
          ],
        }),
      ],
    },
  });
  mirror = await startMirror({ upstream: origin.url, log: (record) => mirrorLog.push(record) });
}, 360_000);
afterAll(async () => {
  await mirror?.close();
  await origin?.close();
});

/** Downloads `uris` with node-llama-cpp in a child process; resolves with the files' paths, in order. */
async function downloadInChild(params: { api: 'createModelDownloader' | 'resolveModelFile'; uris: string[]; env: Record<string, string> }): Promise<string[]> {
  if (!install.ok) throw new Error(install.reason);
  const prefix = install.prefix;
  const dir = await makeTempDir({ prefix: 'hubcache-nlc-' });
  // createModelDownloader for all URIs at once (combined: files and their ranges in parallel);
  // resolveModelFile one by one, the way an app loading a model calls it.
  const script = `
import { combineModelDownloaders, createModelDownloader, resolveModelFile } from 'node-llama-cpp';
const job = JSON.parse(process.env.NLC_JOB);
let paths;
if (job.api === 'createModelDownloader') {
  const combined = await combineModelDownloaders(job.uris.map((modelUri) => createModelDownloader({ modelUri, dirPath: job.dir })), { parallelDownloads: 4 });
  paths = await combined.download();
} else {
  paths = [];
  for (const uri of job.uris) paths.push(await resolveModelFile(uri, { directory: job.dir, cli: false }));
}
process.stdout.write(JSON.stringify(paths));
process.exit(0);
`;
  const env: Record<string, string | undefined> = {
    ...process.env,
    // Only the endpoint the caller names; no token from the environment or a token file.
    MODEL_ENDPOINT: undefined,
    HF_ENDPOINT: undefined,
    HF_TOKEN: undefined,
    HF_TOKEN_PATH: undefined,
    HF_HOME: join(dir, 'hf-home'),
    ...params.env,
    NLC_JOB: JSON.stringify({ api: params.api, uris: params.uris, dir }),
  };
  for (const key of Object.keys(env)) if (env[key] === undefined) delete env[key];
  const result = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    // cwd: `-e` code resolves `node-llama-cpp` from the install prefix.
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: prefix, env: env as NodeJS.ProcessEnv });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
  expect(result.status, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as string[];
}

function blob(path: string): { sha256: string; size: number } {
  return origin.file({ repoId: REPO, path }).blob;
}

describe('node-llama-cpp downloads through the mirror', () => {
  it('both URI forms, ranged and parallel, get the origin bytes; a second client moves no body upstream', async (ctx) => {
    if (!install.ok) {
      console.warn(`skipped: node-llama-cpp could not be installed (${install.reason})`);
      ctx.skip();
    }
    origin.stats.reset();
    mirrorLog.length = 0;

    // First client (MODEL_ENDPOINT, like llama.cpp): Q4 by quant tag (manifest), Q8 by file path.
    const first = await downloadInChild({
      api: 'createModelDownloader',
      uris: [`hf:${REPO}:Q4_K_M`, `hf:${REPO}/${Q8}`],
      env: { MODEL_ENDPOINT: mirror.url },
    });
    expect(await sha256File(first[0]!)).toBe(blob(Q4).sha256);
    expect(await sha256File(first[1]!)).toBe(blob(Q8).sha256);

    // The manifest came through the mirror with the llama-cpp User-Agent (else no ggufFile, no download).
    expect(mirrorLog.filter((r) => r.route === 'manifest').map((r) => [r.path, r.status])).toEqual([[`/v2/${REPO}/manifests/Q4_K_M`, 200]]);
    // ipull's ranged connections: several 206 answers per file (12 MiB = 3 chunks; 7 MiB = 2).
    const ranged = (file: string) => mirrorLog.filter((r) => r.route === 'resolve' && r.path === `/${REPO}/resolve/main/${file}` && r.status === 206).length;
    expect(ranged(Q4)).toBeGreaterThanOrEqual(2);
    expect(ranged(Q8)).toBeGreaterThanOrEqual(2);
    // Each body crossed from the origin once, whatever the number of connections.
    expect(origin.stats.bytesByBlob.get(blob(Q4).sha256)).toBe(blob(Q4).size);
    expect(origin.stats.bytesByBlob.get(blob(Q8).sha256)).toBe(blob(Q8).size);
    const upstreamAfterFirst = origin.stats.bodyBytes;
    expect(upstreamAfterFirst).toBe(blob(Q4).size + blob(Q8).size);

    // Second client (HF_ENDPOINT, resolveModelFile), each file by the other URI form: all from the cache.
    const secondStart = mirrorLog.length;
    const second = await downloadInChild({
      api: 'resolveModelFile',
      uris: [`hf:${REPO}/${Q4}`, `hf:${REPO}:Q8_0`],
      env: { HF_ENDPOINT: mirror.url },
    });
    expect(await sha256File(second[0]!)).toBe(blob(Q4).sha256);
    expect(await sha256File(second[1]!)).toBe(blob(Q8).sha256);
    expect(origin.stats.bodyBytes).toBe(upstreamAfterFirst);
    const secondResolves = mirrorLog.slice(secondStart).filter((r) => r.route === 'resolve');
    expect(secondResolves.length).toBeGreaterThan(2);
    expect(secondResolves.filter((r) => r.cache !== 'hit')).toEqual([]);
  }, 300_000);
});
