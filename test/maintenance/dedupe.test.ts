/**
 * dedupe: the same blob held by several repos becomes one inode; the bytes
 * saved are the bytes that left the disk; a copy whose content does not
 * match its name is never linked; every scanner still reads the cache.
 */
import { lstat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { scanCache } from '../../src/cache/scanCache.js';
import { dedupeCache } from '../../src/maintenance/dedupeCache.js';
import { buildCache } from '../helpers/cacheBuilder.js';
import { runCli } from '../helpers/runCli.js';
import { makeTempDir } from '../helpers/tempDir.js';
import { diskBytes, hfjsWarnings, newWarnings, verifyErrors } from './cacheHealth.js';

describe('dedupe', () => {
  it('hard-links identical blobs across repos and reports the bytes saved', async () => {
    const cacheDir = join(await makeTempDir(), 'hub');
    const weights = Buffer.alloc(50_000, 7);
    const built = await buildCache({
      cacheDir,
      repos: [
        { repoId: 'org/base', revisions: [{ refs: ['main'], files: { 'w.safetensors': weights, 'tok.json': '{"t":1}' } }] },
        { repoId: 'org/tune', revisions: [{ refs: ['main'], files: { 'w.safetensors': weights, 'tok.json': '{"t":1}', 'adapter.bin': Buffer.alloc(100, 1) } }] },
        { repoType: 'dataset', repoId: 'org/copy', revisions: [{ refs: ['main'], files: { 'w.safetensors': weights } }] },
        { repoId: 'org/damaged', revisions: [{ refs: ['main'], files: { 'w.safetensors': weights } }] },
      ],
    });
    // Same name, other bytes: a damaged download must never be linked over (or from) a good copy.
    const damaged = built.repos[3]!.revisions[0]!.files['w.safetensors']!.blobPath;
    await writeFile(damaged, Buffer.alloc(50_000, 8));
    const sizesBefore = (await scanCache({ cacheDir })).repos.map((r) => [r.folderName, r.sizeOnDisk]);
    const warnings = await hfjsWarnings({ cacheDir });
    const before = await diskBytes({ dir: cacheDir });

    const dry = await dedupeCache({ cacheDir, dryRun: true });
    expect(dry.bytesSaved).toBe(2 * 50_000 + 7);
    expect(await diskBytes({ dir: cacheDir })).toBe(before);

    const cli = await runCli({ args: ['dedupe', '--cache-dir', cacheDir, '--json'] });
    expect(cli.code, cli.stderr).toBe(0);
    const report = cli.json();
    expect(report.bytesSaved).toBe(2 * 50_000 + 7);
    expect(report.skipped.map((s: { path: string }) => s.path)).toEqual([damaged]);
    expect(before - (await diskBytes({ dir: cacheDir }))).toBe(report.bytesSaved);
    const inodes = new Set(
      await Promise.all(built.repos.slice(0, 3).map(async (r) => (await lstat(r.revisions[0]!.files['w.safetensors']!.blobPath)).ino)),
    );
    expect(inodes.size).toBe(1);
    expect((await lstat(damaged)).nlink).toBe(1);

    // Every tool still reads the same layout and sizes.
    expect((await scanCache({ cacheDir })).repos.map((r) => [r.folderName, r.sizeOnDisk])).toEqual(sizesBefore);
    expect(newWarnings({ before: warnings, after: await hfjsWarnings({ cacheDir }) })).toEqual([]);
    expect((await verifyErrors({ cacheDir })).filter((e) => !e.includes(damaged))).toEqual([]);
    const again = await dedupeCache({ cacheDir });
    expect(again.groups).toEqual([]);
    expect(again.bytesSaved).toBe(0);
  });
});
