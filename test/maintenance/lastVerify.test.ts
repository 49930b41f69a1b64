/** `hubcache verify` records its outcome (for the dashboard's "last verify"), damage included. */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readLastVerify } from '../../src/maintenance/lastVerify.js';
import { buildSampleCache } from '../helpers/cacheBuilder.js';
import { runCli } from '../helpers/runCli.js';
import { makeTempDir } from '../helpers/tempDir.js';

describe('last verify record', () => {
  it('is written by every verify run, clean or not', async () => {
    const cacheDir = join(await makeTempDir(), 'hub');
    const built = await buildSampleCache({ cacheDir });
    expect(await readLastVerify({ cacheDir })).toBeUndefined();
    expect((await runCli({ args: ['verify', '--cache-dir', cacheDir, '--json'] })).code).toBe(0);
    const clean = await readLastVerify({ cacheDir });
    expect(clean).toMatchObject({ ok: true, findingCount: 0, repos: null });
    expect(clean!.blobsChecked).toBeGreaterThan(0);

    const blob = Object.values(built.repos[0]!.revisions[0]!.files)[0]!.blobPath;
    await writeFile(blob, 'tampered');
    expect((await runCli({ args: ['verify', 'org/model', '--cache-dir', cacheDir, '--json'] })).code).toBe(1);
    const damaged = await readLastVerify({ cacheDir });
    expect(damaged).toMatchObject({ ok: false, repos: ['models--org--model'] });
    expect(damaged!.findings.map((f) => f.code)).toContain('hash-mismatch');
  });
});
