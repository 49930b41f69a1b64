/**
 * verify --fix repairs only what the layout defines, through the same plan ->
 * confirm -> execute path as rm/prune/gc: a blob that is a symlink to another
 * disk is a blob (Python resolves it), never a stray whose links dangle; a
 * folder under snapshots/ that is no revision is reported, never removed; a
 * repo whose blobs/ folder is a link is reported, and the rest still gets fixed.
 */
import { mkdir, readdir, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { scanCache } from '../../src/cache/scanCache.js';
import { buildCache } from '../helpers/cacheBuilder.js';
import { runCli } from '../helpers/runCli.js';
import { makeTempDir } from '../helpers/tempDir.js';
import { verifyErrors } from './cacheHealth.js';

async function flipByte(path: string): Promise<void> {
  const bytes = await readFile(path);
  bytes[0] = (bytes[0] as number) ^ 0xff;
  await writeFile(path, bytes);
}

describe('verify --fix never deletes what is not the cache', () => {
  it('treats a blob symlinked to another disk as a blob: hashed through the link, reported, kept with its target and links', async () => {
    const base = await makeTempDir();
    const cacheDir = join(base, 'hub');
    const content = Buffer.alloc(5000, 3);
    const built = await buildCache({ cacheDir, repos: [{ repoId: 'org/m', revisions: [{ refs: ['main'], files: { 'w.gguf': content, 'c.json': '{}' } }] }] });
    const w = built.repos[0]!.revisions[0]!.files['w.gguf']!;
    // The blob lives on another disk; the cache holds a link to it.
    const disk = join(base, 'disk2');
    await mkdir(disk);
    await rm(w.blobPath);
    await writeFile(join(disk, 'w.gguf'), content);
    await symlink(join(disk, 'w.gguf'), w.blobPath);

    const res = await runCli({ args: ['verify', '--json', '--cache-dir', cacheDir] });
    expect(res.code, res.stdout).toBe(0);
    const findings = res.json().findings as Array<{ code: string; severity: string; path: string }>;
    expect(findings).toEqual([expect.objectContaining({ code: 'linked-blob', severity: 'info', path: w.blobPath })]);
    expect(res.json().blobsChecked).toBe(2);

    const fixed = await runCli({ args: ['verify', '--fix', '--yes', '--json', '--cache-dir', cacheDir] });
    expect(fixed.code, fixed.stdout).toBe(0);
    expect(await readFile(join(disk, 'w.gguf'))).toEqual(content);
    expect(await readlink(w.blobPath)).toBe(join(disk, 'w.gguf'));
    expect((await stat(w.snapshotPath)).size).toBe(5000);

    // Damaged on the other disk: the link in the cache goes (with its snapshot links), the target stays.
    await flipByte(join(disk, 'w.gguf'));
    const damaged = await runCli({ args: ['verify', '--fix', '--yes', '--json', '--cache-dir', cacheDir] });
    expect(damaged.json().plan.items.map((i: { kind: string; path: string }) => `${i.kind} ${i.path}`).sort()).toEqual([`blob ${w.blobPath}`, `link ${w.snapshotPath}`]);
    expect(damaged.json().afterFix.ok).toBe(true);
    expect((await readFile(join(disk, 'w.gguf'))).length).toBe(5000);
  });

  it('reports folders under snapshots/ that are no revision and never removes them; plans, asks and honours --dry-run', async () => {
    const base = await makeTempDir();
    const cacheDir = join(base, 'hub');
    const built = await buildCache({ cacheDir, repos: [{ repoId: 'org/m', revisions: [{ refs: ['main'], files: { 'w.gguf': Buffer.alloc(300, 1), 'c.json': '{}' } }] }] });
    const repo = built.repos[0]!;
    const w = repo.revisions[0]!.files['w.gguf']!;
    const work = join(repo.paths.snapshotsDir, 'my-finetune');
    await mkdir(join(work, 'ckpt'), { recursive: true });
    await writeFile(join(work, 'ckpt', 'weights.bin'), 'hours of training');
    await flipByte(w.blobPath);

    // Without --yes and without a terminal nobody can confirm: nothing changes.
    const unconfirmed = await runCli({ args: ['verify', '--fix', '--json', '--cache-dir', cacheDir] });
    expect(unconfirmed.code).toBe(1);
    expect(unconfirmed.json().error.code).toBe('E_ABORTED');
    const dry = await runCli({ args: ['verify', '--fix', '--dry-run', '--json', '--cache-dir', cacheDir] });
    expect(dry.code).toBe(1);
    expect(dry.json().dryRun).toBe(true);
    expect(dry.json().plan.command).toBe('verify');
    expect(dry.json().plan.items.map((i: { path: string }) => i.path).sort()).toEqual([w.blobPath, w.snapshotPath].sort());
    expect(dry.json().plan.notes.join('\n')).toContain(work);
    expect((await stat(w.blobPath)).size).toBe(300);

    const fixed = await runCli({ args: ['verify', '--fix', '--yes', '--json', '--cache-dir', cacheDir] });
    expect(fixed.json().result.removed).toBe(2);
    expect(await readFile(join(work, 'ckpt', 'weights.bin'), 'utf8')).toBe('hours of training');
    // The folder is still reported: it is the user's to move.
    expect(fixed.json().afterFix.findings.map((f: { code: string; path: string }) => `${f.code} ${f.path}`)).toEqual([`stray-entry ${work}`]);
    expect(fixed.code).toBe(1);
  });

  it('reports a repo whose blobs/ folder is a link, and still fixes the other repos', async () => {
    const base = await makeTempDir();
    const cacheDir = join(base, 'hub');
    const built = await buildCache({
      cacheDir,
      repos: [
        { repoId: 'org/a-linked', revisions: [{ refs: ['main'], files: { 'x.bin': Buffer.alloc(200, 1) } }] },
        { repoId: 'org/b-damaged', revisions: [{ refs: ['main'], files: { 'y.bin': Buffer.alloc(200, 2) } }] },
      ],
    });
    const linked = built.repos[0]!;
    const x = linked.revisions[0]!.files['x.bin']!;
    const y = built.repos[1]!.revisions[0]!.files['y.bin']!;
    // org/a-linked keeps its bytes elsewhere, and one of them is damaged there.
    const elsewhere = join(base, 'elsewhere');
    await mkdir(elsewhere);
    await writeFile(join(elsewhere, x.etag), Buffer.alloc(200, 9));
    await rm(linked.paths.blobsDir, { recursive: true });
    await symlink(elsewhere, linked.paths.blobsDir);
    await flipByte(y.blobPath);

    const scan = await scanCache({ cacheDir });
    expect(scan.repos[0]!.warnings.map((w) => `${w.code} ${w.path}`)).toEqual([`linked-folder ${linked.paths.blobsDir}`]);
    const ls = await runCli({ args: ['ls', '--json', '--cache-dir', cacheDir] });
    expect(JSON.stringify(ls.json())).toContain('linked-folder');

    const fixed = await runCli({ args: ['verify', '--fix', '--yes', '--json', '--cache-dir', cacheDir] });
    expect(fixed.stderr).not.toContain('E_OUTSIDE_CACHE');
    expect(fixed.json().result.failed).toEqual([]);
    // The damage in the real repo was fixed...
    await expect(stat(y.blobPath)).rejects.toThrow();
    await expect(stat(y.snapshotPath)).rejects.toThrow();
    // ...and nothing behind the linked folder was touched.
    expect(await readdir(elsewhere)).toEqual([x.etag]);
    expect((await verifyErrors({ cacheDir })).map((e) => e.split(' ')[0]).sort()).toEqual(['hash-mismatch', 'linked-folder']);
  });
});
