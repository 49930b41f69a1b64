/**
 * The maintenance commands on a cache written by another client:
 * @huggingface/hub's snapshotDownload / downloadFileToCacheDir against the
 * Hub-compatible test origin. After each command the cache verifies clean,
 * @huggingface/hub's own scan warns about nothing new, and the bytes that
 * left the disk are the bytes the plan (or dedupe's report) announced.
 */
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { downloadFileToCacheDir, snapshotDownload } from '@huggingface/hub';
import { createOrigin, type Origin } from '../helpers/origin/createOrigin.js';
import { linearRepo } from '../helpers/origin/fixture.js';
import { runCli } from '../helpers/runCli.js';
import { makeTempDir } from '../helpers/tempDir.js';
import { diskBytes, hfjsWarnings, newWarnings, verifyErrors } from './cacheHealth.js';

let origin: Origin;
const weights = { size: 300_000, seed: 'shared-weights' };

const model = linearRepo({
  repoId: 'acme/model',
  commits: [
    { files: [{ path: 'model.safetensors', source: weights }, { path: 'config.json', source: '{"v":1}' }, { path: 'README.md', source: '# m' }], refs: ['v1.0'] },
    { files: [{ path: 'config.json', source: '{"v":2}' }, { path: 'extra/tokenizer.json', source: '{"t":2}' }] },
  ],
});

beforeAll(async () => {
  origin = await createOrigin({
    fixture: {
      repos: [
        model,
        linearRepo({ repoId: 'acme/fork', commits: [{ files: [{ path: 'model.safetensors', source: weights }, { path: 'fork.json', source: '{}' }] }] }),
      ],
    },
  });
});
afterAll(async () => origin?.close());

async function checked(params: { cacheDir: string; args: string[] }): Promise<any> {
  const { cacheDir } = params;
  const before = await diskBytes({ dir: cacheDir });
  const warnings = await hfjsWarnings({ cacheDir });
  const run = await runCli({ args: [...params.args, '--cache-dir', cacheDir, '--json'] });
  expect(run.code, `${params.args.join(' ')}: ${run.stderr}`).toBe(0);
  const out = run.json();
  const announced = out.plan ? out.plan.totals.bytes : out.bytesSaved;
  if (out.result) expect(out.result.bytesFreed).toBe(announced);
  expect(before - (await diskBytes({ dir: cacheDir })), params.args.join(' ')).toBe(announced);
  expect(await verifyErrors({ cacheDir })).toEqual([]);
  expect(newWarnings({ before: warnings, after: await hfjsWarnings({ cacheDir }) })).toEqual([]);
  return out;
}

describe('maintenance of a cache written by @huggingface/hub', () => {
  it('rm, prune, dedupe, gc and evict keep it valid for both tools', async () => {
    const cacheDir = join(await makeTempDir(), 'hub');
    const hubUrl = origin.url;
    await snapshotDownload({ repo: 'acme/model', revision: 'v1.0', hubUrl, cacheDir });
    await snapshotDownload({ repo: 'acme/model', hubUrl, cacheDir });
    await snapshotDownload({ repo: 'acme/fork', hubUrl, cacheDir });
    // By branch, @huggingface/hub names the snapshot after the file's last commit and writes no ref.
    await downloadFileToCacheDir({ repo: 'acme/model', path: 'README.md', hubUrl, cacheDir });
    const v1 = model.refs['v1.0']!;
    const blob = join(cacheDir, 'models--acme--model', 'blobs', origin.file({ repoId: 'acme/model', path: 'model.safetensors' }).etag);

    const rm = await checked({ cacheDir, args: ['rm', 'acme/model@v1.0', '--yes'] });
    expect(rm.plan.revisions.map((r: { commit: string }) => r.commit)).toEqual([v1]);
    // model.safetensors is shared with main: it stays.
    await access(blob);

    await checked({ cacheDir, args: ['prune', '--yes', '--min-age', '0s'] });
    const dedupe = await checked({ cacheDir, args: ['dedupe'] });
    expect(dedupe.bytesSaved).toBe(weights.size);
    await checked({ cacheDir, args: ['gc', '--yes', '--min-age', '0s'] });
    const evict = await checked({ cacheDir, args: ['evict', '--max-size', String(weights.size + 10), '--keep', 'acme/fork', '--yes'] });
    expect(evict.plan.revisions.map((r: { repo: string }) => r.repo)).toEqual(['models--acme--model']);
    // The blob was hard-linked into the fork by dedupe: evicting the model freed no weights.
    expect(evict.plan.totals.bytes).toBeLessThan(weights.size);
    const ls = await runCli({ args: ['ls', '--json', '--cache-dir', cacheDir] });
    expect(ls.json().repos.map((r: { repoId: string }) => r.repoId)).toEqual(['acme/fork']);
  });
});
