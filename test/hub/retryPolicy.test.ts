/**
 * One retry policy for both loops (metadata calls through withRetries, blob
 * transfers through runSegment): Retry-After honoured up to a minute (checked
 * from the origin's side, by when the retry arrived), abortable, and only
 * error kinds a retry can cure are retried, by the same rule in both loops.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOrigin, type Origin } from '../helpers/origin/createOrigin.js';
import { linearRepo } from '../helpers/origin/fixture.js';
import { makeTempDir } from '../helpers/tempDir.js';
import { HubcacheError, NETWORK_FAILURES, type NetworkFailure } from '../../src/errors.js';
import { downloadFile } from '../../src/download/downloadFile.js';
import { transferBlob } from '../../src/download/transferBlob.js';
import { retryDelayMs } from '../../src/hub/retryPolicy.js';
import { withRetries } from '../../src/hub/withRetries.js';
import { getFileMetadata } from '../../src/hub/getFileMetadata.js';

let origin: Origin;

beforeAll(async () => {
  origin = await createOrigin({
    fixture: { repos: [linearRepo({ repoId: 'acme/retry', commits: [{ files: [{ path: 'w.bin', source: { size: 2 * 1024 * 1024, seed: 'retry' } }] }] })] },
  });
}, 60_000);
afterAll(async () => origin?.close());

/** Milliseconds between the first two logged requests of `route` for w.bin. */
function gapBetweenFirstTwo(route: 'head' | 'cdn'): number {
  const hits = origin.stats.log.filter((e) => e.route === route && e.url.includes('w.bin'));
  expect(hits.length).toBeGreaterThanOrEqual(2);
  return (hits[1]?.at ?? 0) - (hits[0]?.at ?? 0);
}

async function transfer(params: { signal?: AbortSignal; retries?: number; onRetry?: (info: { delayMs: number }) => void } = {}) {
  const dir = await makeTempDir();
  const file = origin.file({ repoId: 'acme/retry', path: 'w.bin' });
  return transferBlob({
    url: `${origin.url}/acme/retry/resolve/main/w.bin`,
    size: file.blob.size,
    etag: file.blob.sha256,
    algorithm: 'sha256',
    partialPath: join(dir, 'partial'),
    statePath: join(dir, 'state'),
    connections: 1,
    retries: params.retries ?? 3,
    signal: params.signal,
    ...(params.onRetry ? { onRetry: params.onRetry } : {}),
    what: 'download w.bin',
  });
}

describe('Retry-After', () => {
  // 9 s: above the 8 s both loops used to cap it at, within the minute the policy honours.
  it('a 429 on the metadata HEAD is retried after the full Retry-After, not a capped one', async () => {
    const cacheDir = join(await makeTempDir(), 'hub');
    origin.faults.add({ kind: 'status', status: 429, retryAfter: 9, match: { route: 'head', path: 'w.bin' }, times: 1 });
    origin.stats.reset();
    const result = await downloadFile({ cacheDir, endpoint: origin.url, repoId: 'acme/retry', repoType: 'model', path: 'w.bin', retries: 3 });
    expect(result.fromCache).toBe(false);
    expect(gapBetweenFirstTwo('head')).toBeGreaterThanOrEqual(8_900);
  }, 30_000);

  it('a 429 on a blob GET is retried after the full Retry-After, by the same rule', async () => {
    origin.faults.add({ kind: 'status', status: 429, retryAfter: 9, match: { route: 'cdn', path: 'w.bin' }, times: 1 });
    origin.stats.reset();
    const result = await transfer();
    expect(result.digest).toBe(origin.file({ repoId: 'acme/retry', path: 'w.bin' }).blob.sha256);
    expect(gapBetweenFirstTwo('cdn')).toBeGreaterThanOrEqual(8_900);
  }, 30_000);

  it('a long Retry-After is cut short by the signal, in both loops', async () => {
    for (const loop of ['metadata', 'transfer'] as const) {
      origin.faults.add({ kind: 'status', status: 503, retryAfter: 60, match: { route: loop === 'metadata' ? 'head' : 'cdn', path: 'w.bin' }, times: 1 });
      const controller = new AbortController();
      const reason = new HubcacheError({ code: 'E_ABORTED', message: 'stop' });
      // Aborted as the minute's wait begins: a wait that ignored the signal would outlast the test's timeout.
      const onRetry = (info: { delayMs: number }): void => {
        expect(info.delayMs).toBe(60_000);
        controller.abort(reason);
      };
      const run =
        loop === 'metadata'
          ? withRetries({ retries: 3, signal: controller.signal, onRetry, fn: () => getFileMetadata({ endpoint: origin.url, repoId: 'acme/retry', repoType: 'model', revision: 'main', path: 'w.bin' }) })
          : transfer({ signal: controller.signal, onRetry });
      await expect(run, loop).rejects.toBe(reason);
    }
  }, 20_000);
});

describe('what is retried', () => {
  it('is a property of the error kind, decided in errors.ts', () => {
    const network = (failure: NetworkFailure) => new HubcacheError({ code: 'E_NETWORK', message: 'x', data: { failure } });
    for (const [failure, facts] of Object.entries(NETWORK_FAILURES)) {
      expect(network(failure as NetworkFailure).retryable, failure).toBe(facts.retryable);
      expect(retryDelayMs({ err: network(failure as NetworkFailure), failures: 1, retries: 3 }) !== undefined, failure).toBe(facts.retryable);
    }
    // Not a network failure: never retried, whatever its data says (the old `retryable: true` flag was never read).
    for (const code of ['E_HTTP', 'E_REPO_NOT_FOUND', 'E_AUTH', 'E_INTEGRITY'] as const) {
      const err = new HubcacheError({ code, message: 'x', data: { retryable: true } });
      expect(err.retryable, code).toBe(false);
      expect(retryDelayMs({ err, failures: 1, retries: 3 }), code).toBeUndefined();
    }
    // The budget, and a cached copy making an unreachable host not worth waiting for.
    expect(retryDelayMs({ err: network('reset'), failures: 4, retries: 3 })).toBeUndefined();
    expect(retryDelayMs({ err: network('refused'), failures: 1, retries: 3, hasFallback: true })).toBeUndefined();
    expect(retryDelayMs({ err: network('server-busy'), failures: 1, retries: 3, hasFallback: true })).toBeGreaterThan(0);
  });

  it('a status a retry cannot cure is asked once, in both loops', async () => {
    origin.faults.add({ kind: 'status', status: 400, match: { route: 'head', path: 'w.bin' }, times: 5 });
    origin.faults.add({ kind: 'status', status: 400, match: { route: 'cdn', path: 'w.bin' }, times: 5 });
    origin.stats.reset();
    try {
      const metadata = withRetries({ retries: 3, fn: () => getFileMetadata({ endpoint: origin.url, repoId: 'acme/retry', repoType: 'model', revision: 'main', path: 'w.bin' }) });
      await expect(metadata).rejects.toMatchObject({ code: 'E_HTTP' });
      await expect(transfer()).rejects.toMatchObject({ code: 'E_HTTP' });
      expect(origin.stats.log.filter((e) => e.route === 'head')).toHaveLength(1);
      expect(origin.stats.log.filter((e) => e.route === 'cdn')).toHaveLength(1);
    } finally {
      origin.faults.clear();
    }
  });
});
