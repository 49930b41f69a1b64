/**
 * doctor --fix changes modes and groups only of files that are wholly inside
 * the cache. A blob hard-linked to a file outside the cache (`ln` by a user, a
 * backup tool's hard-link farm) is one inode: chmod on the cache's name changes
 * the outside file too. doctor reports it and leaves it alone; blobs that
 * `hubcache dedupe` hard-linked between repos (all names inside) are fixed.
 */
import { chmod, link, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { doctorCache } from '../../src/maintenance/doctorCache.js';
import { buildCache } from '../helpers/cacheBuilder.js';
import { makeTempDir } from '../helpers/tempDir.js';

describe('doctor and hard links', () => {
  it('reports a blob hard-linked outside the cache and does not chmod or chgrp it; fixes in-cache hard links', async () => {
    const base = await makeTempDir();
    const cacheDir = join(base, 'hub');
    const same = Buffer.alloc(4000, 7);
    const built = await buildCache({
      cacheDir,
      repos: [
        { repoId: 'org/a', revisions: [{ refs: ['main'], files: { 'w.gguf': same, 'out.bin': Buffer.alloc(300, 1) } }] },
        { repoId: 'org/b', revisions: [{ refs: ['main'], files: { 'w.gguf': same } }] },
      ],
    });
    const a = built.repos[0]!.revisions[0]!.files;
    const b = built.repos[1]!.revisions[0]!.files;
    // As dedupe does: org/b's blob becomes a second name of org/a's.
    const { unlink } = await import('node:fs/promises');
    await unlink(b['w.gguf']!.blobPath);
    await link(a['w.gguf']!.blobPath, b['w.gguf']!.blobPath);
    await chmod(a['w.gguf']!.blobPath, 0o600);
    // A user's own file outside the cache that shares its inode with a blob.
    const outside = join(base, 'my-working-copy.bin');
    await link(a['out.bin']!.blobPath, outside);
    await chmod(outside, 0o600);
    const outsideGid = (await stat(outside)).gid;

    const report = await doctorCache({ cacheDir, fix: true, group: '4242' });
    expect(report.failed).toEqual([]);
    const finding = report.findings.find((f) => f.path === a['out.bin']!.blobPath);
    expect(finding).toMatchObject({ code: 'hard-linked-outside', fixable: false });
    expect(finding?.why).toContain('outside the cache');
    // Neither name of the outside inode was changed...
    expect(report.changes.filter((c) => c.path === a['out.bin']!.blobPath)).toEqual([]);
    const after = await stat(outside);
    expect(after.mode & 0o777).toBe(0o600);
    expect(after.gid).toBe(outsideGid);
    // ...while the dedupe hard link (both names inside the cache) was fixed.
    const deduped = await stat(b['w.gguf']!.blobPath);
    expect(deduped.mode & 0o060).toBe(0o060);
    expect(deduped.gid).toBe(4242);
  });
});
