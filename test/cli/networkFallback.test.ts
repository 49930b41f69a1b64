/**
 * A Hub out of reach with the model already cached: `download` falls back to
 * the cached copy at once on a refused port, and after one metadata timeout
 * (HF_HUB_ETAG_TIMEOUT) on a host that accepts and never answers, for one file
 * and for a whole snapshot. Without a cached copy it still retries. An endpoint
 * that is not an http(s) URL is a usage error. Real sockets on 127.0.0.1.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOrigin, type Origin } from '../helpers/origin/createOrigin.js';
import { linearRepo } from '../helpers/origin/fixture.js';
import { makeTempDir } from '../helpers/tempDir.js';
import { runCli } from '../helpers/runCli.js';

let origin: Origin;
let cacheDir: string;
let cachedFile: string;
let cachedSnapshot: string;
let refusedUrl: string;
let silent: { url: string; connections: () => number; close(): Promise<void> };

/** A port nothing listens on: bound, then closed, so connecting is refused. */
async function refusingPort(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

/** A TCP listener that accepts every connection and never sends a byte. */
async function silentListener(): Promise<typeof silent> {
  const sockets = new Set<Socket>();
  let count = 0;
  const server: Server = createServer((socket) => {
    count += 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    connections: () => count,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

beforeAll(async () => {
  origin = await createOrigin({
    fixture: { repos: [linearRepo({ repoId: 'acme/cached', commits: [{ files: [{ path: 'config.json', source: '{"a": 1}' }, { path: 'tokenizer.json', source: '{}' }] }] })] },
  });
  cacheDir = join(await makeTempDir(), 'hub');
  const file = await runCli({ args: ['download', 'acme/cached', 'config.json', '--json', '--cache-dir', cacheDir], env: { HF_ENDPOINT: origin.url } });
  expect(file.code, file.stderr).toBe(0);
  cachedFile = file.json().path;
  const snapshot = await runCli({ args: ['download', 'acme/cached', '--json', '--cache-dir', cacheDir], env: { HF_ENDPOINT: origin.url } });
  expect(snapshot.code, snapshot.stderr).toBe(0);
  cachedSnapshot = snapshot.json().path;
  refusedUrl = await refusingPort();
  silent = await silentListener();
}, 60_000);
afterAll(async () => {
  await silent?.close();
  await origin?.close();
});

async function timedDownload(params: { args: string[]; env: Record<string, string> }) {
  const started = Date.now();
  // The CLI's default --retries (5): what a compose service runs.
  const result = await runCli({ args: ['download', 'acme/cached', ...params.args, '--json', '--cache-dir', cacheDir], env: params.env, timeoutMs: 60_000 });
  return { result, seconds: (Date.now() - started) / 1000 };
}

describe('with a cached copy, an unreachable Hub is not waited for', () => {
  // Behavioural bounds, not performance targets: the old code took 15.8 s (refused) and minutes (silent).
  it.each([
    { name: 'refused port', env: () => ({ HF_ENDPOINT: refusedUrl }) },
    { name: 'silent listener, HF_HUB_ETAG_TIMEOUT=1', env: () => ({ HF_ENDPOINT: silent.url, HF_HUB_ETAG_TIMEOUT: '1' }) },
  ])('$name: one file and a whole snapshot fall back to the cache, exit 0', async ({ env }) => {
    for (const { args, expected } of [
      { args: ['config.json'], expected: () => cachedFile },
      { args: [], expected: () => cachedSnapshot },
    ]) {
      const { result, seconds } = await timedDownload({ args, env: env() });
      expect(result.code, result.stderr).toBe(0);
      expect(result.json().path).toBe(expected());
      expect(result.stderr).toMatch(/using the cached/);
      expect(seconds, `${args.join(' ') || 'snapshot'} took ${seconds} s`).toBeLessThan(8);
    }
  }, 120_000);
});

describe('without a cached copy', () => {
  it('still retries a silent host, then fails with E_NETWORK', async () => {
    const emptyCache = join(await makeTempDir(), 'hub');
    const before = silent.connections();
    const result = await runCli({
      args: ['download', 'acme/cached', 'config.json', '--retries', '1', '--json', '--cache-dir', emptyCache],
      env: { HF_ENDPOINT: silent.url, HF_HUB_ETAG_TIMEOUT: '1' },
      timeoutMs: 60_000,
    });
    expect(result.code).toBe(1);
    expect(result.json().error.code).toBe('E_NETWORK');
    expect(result.json().error.data.failure).toBe('no-answer');
    // The first try and one retry.
    expect(silent.connections() - before).toBe(2);
  }, 60_000);
});

describe('an endpoint that is not an http(s) URL', () => {
  it.each([
    { name: '--endpoint notaurl', args: ['--endpoint', 'notaurl'], env: {}, source: '--endpoint' },
    { name: 'HF_ENDPOINT=ftp://x', args: [], env: { HF_ENDPOINT: 'ftp://x' }, source: 'HF_ENDPOINT' },
    { name: 'HF_ENDPOINT=notaurl', args: [], env: { HF_ENDPOINT: 'notaurl' }, source: 'HF_ENDPOINT' },
  ])('$name is a usage error (exit 2) that names it', async ({ args, env, source }) => {
    const result = await runCli({ args: ['download', 'acme/cached', 'config.json', '--json', '--cache-dir', cacheDir, ...args], env });
    expect(result.code).toBe(2);
    const error = result.json().error;
    expect(error.code).toBe('E_USAGE');
    expect(error.message).toMatch(/^Invalid endpoint ".+" \(from /);
    expect(error.data.source).toBe(source);
  });

  it('HF_HUB_ETAG_TIMEOUT that is not a positive number is a usage error too', async () => {
    const result = await runCli({ args: ['download', 'acme/cached', 'config.json', '--json', '--cache-dir', cacheDir], env: { HF_ENDPOINT: origin.url, HF_HUB_ETAG_TIMEOUT: 'abc' } });
    expect(result.code).toBe(2);
    expect(result.json().error.code).toBe('E_USAGE');
  });
});
