/**
 * doctor on a cache that a second user cannot use (files 0600 owned by yet
 * another uid, absolute links, a 0644 lock file, no CACHEDIR.TAG...): the
 * findings name path, why and fix, and `--fix` makes the cache usable by that
 * user, checked by running as that user (real uids via setpriv; needs root).
 */
import { spawnSync } from 'node:child_process';
import { chmod, chown, lstat, mkdir, readdir, readlink, stat, symlink, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { doctorCache } from '../../src/maintenance/doctorCache.js';
import { buildCache, buildSampleCache, fakeCommit } from '../helpers/cacheBuilder.js';
import { CLI_PATH, runCli } from '../helpers/runCli.js';
import { makeTempDir } from '../helpers/tempDir.js';
import { verifyErrors } from './cacheHealth.js';

const isRoot = process.getuid?.() === 0;
const hasSetpriv = spawnSync('setpriv', ['--version']).status === 0;
/** The owner of the broken files, the user who needs them, the group they share. */
const OTHER_UID = 23456;
const USER_UID = 12345;
const SHARED_GID = 12345;
/** A user whose own group differs, in the shared group only as a supplementary group. */
const MEMBER_UID = 12346;
const MEMBER_GID = 12399;

async function chownTree(params: { path: string; uid: number; gid: number; fileMode: number; dirMode: number }): Promise<void> {
  const stats = await lstat(params.path);
  if (stats.isSymbolicLink()) return;
  await chown(params.path, params.uid, params.gid);
  await chmod(params.path, stats.isDirectory() ? params.dirMode : params.fileMode);
  if (stats.isDirectory()) for (const name of await readdir(params.path)) await chownTree({ ...params, path: join(params.path, name) });
}

function asUser(params: { uid: number; gid: number; groups?: number[]; args: string[] }): { code: number | null; stdout: string; stderr: string } {
  const groupArgs = params.groups ? [`--groups=${params.groups.join(',')}`] : ['--clear-groups'];
  const run = spawnSync('setpriv', [`--reuid=${params.uid}`, `--regid=${params.gid}`, ...groupArgs, ...params.args], { encoding: 'utf8', env: { ...process.env, HF_HUB_DISABLE_PROGRESS_BARS: '1' } });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe('doctor', () => {
  it.skipIf(!isRoot || !hasSetpriv)('makes a cache unreadable for a second user usable by that user (--fix)', async () => {
    const base = await makeTempDir();
    // mkdtemp makes a private folder; the second user must be able to reach the cache.
    await chmod(base, 0o755);
    const cacheDir = join(base, 'hub');
    const built = await buildSampleCache({ cacheDir });
    const model = built.repos[0]!;
    const main = model.revisions[0]!;
    const gguf = main.files['model.gguf']!;
    // An absolute link (as some scripts write them), a 0644 lock file (filelock's default),
    // a ref to a commit that is not cached, an abandoned partial, and no CACHEDIR.TAG.
    await unlink(gguf.snapshotPath);
    await symlink(gguf.blobPath, gguf.snapshotPath);
    const lockPath = model.paths.lock(gguf.etag);
    await mkdir(model.paths.locksDir, { recursive: true });
    await writeFile(lockPath, '');
    await writeFile(join(model.paths.refsDir, 'stale'), fakeCommit('never downloaded'));
    await writeFile(join(model.paths.blobsDir, `${'e'.repeat(64)}.incomplete`), 'partial');
    await unlink(join(cacheDir, 'CACHEDIR.TAG'));
    await chownTree({ path: cacheDir, uid: OTHER_UID, gid: OTHER_UID, fileMode: 0o600, dirMode: 0o700 });
    await chmod(lockPath, 0o644);

    const pathArgs = [process.execPath, CLI_PATH, 'path', 'org/model', 'model.gguf', '--cache-dir', cacheDir];
    const denied = asUser({ uid: USER_UID, gid: SHARED_GID, args: pathArgs });
    expect(denied.code).not.toBe(0);

    const check = await runCli({ args: ['doctor', '--group', String(SHARED_GID), '--cache-dir', cacheDir, '--json'] });
    expect(check.code).toBe(1);
    const findings = check.json().findings as Array<{ code: string; path: string; why: string; fix: string; fixable: boolean }>;
    const codes = new Set(findings.map((f) => f.code));
    for (const code of ['wrong-group', 'group-access', 'missing-setgid', 'lock-not-group-writable', 'absolute-link', 'ref-missing-snapshot', 'partial-file', 'missing-cachedir-tag']) {
      expect(codes, code).toContain(code);
    }
    for (const f of findings) {
      expect(f.path.startsWith(cacheDir)).toBe(true);
      expect(f.why.length).toBeGreaterThan(10);
      expect(f.fix.length).toBeGreaterThan(3);
    }
    expect(findings.find((f) => f.code === 'absolute-link')?.fix).toContain('ln -sfn ../../blobs/');
    expect(findings.find((f) => f.code === 'lock-not-group-writable')?.fix).toBe(`chmod 0664 ${lockPath}`);

    const fixed = await runCli({ args: ['doctor', '--fix', '--group', String(SHARED_GID), '--cache-dir', cacheDir, '--json'] });
    const report = fixed.json();
    expect(report.failed).toEqual([]);
    expect(report.changes.length).toBeGreaterThan(20);
    // Only the partial download is left: removing it is prune's job.
    expect(report.remaining.map((f: { code: string }) => f.code)).toEqual(['partial-file']);
    expect(fixed.code).toBe(1);

    // Now the second user reads, resolves and verifies the cache...
    const ok = asUser({ uid: USER_UID, gid: SHARED_GID, args: pathArgs });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout.trim()).toBe(gguf.snapshotPath);
    const verify = asUser({ uid: USER_UID, gid: SHARED_GID, args: [process.execPath, CLI_PATH, 'verify', '--cache-dir', cacheDir] });
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    // ...opens the lock file for writing (filelock does), and a member whose own group differs
    // creates files that land in the shared group thanks to setgid.
    const script = `const fs=require('fs');fs.closeSync(fs.openSync(${JSON.stringify(lockPath)},'r+'));fs.writeFileSync(${JSON.stringify(join(model.paths.blobsDir, 'probe'))},'x')`;
    const member = asUser({ uid: MEMBER_UID, gid: MEMBER_GID, groups: [SHARED_GID], args: [process.execPath, '-e', script] });
    expect(member.code, member.stderr).toBe(0);
    expect((await stat(join(model.paths.blobsDir, 'probe'))).gid).toBe(SHARED_GID);
    await unlink(join(model.paths.blobsDir, 'probe'));

    expect(await readlink(gguf.snapshotPath)).toBe(`../../blobs/${gguf.etag}`);
    expect((await stat(lockPath)).mode & 0o777).toBe(0o664);
    expect(await verifyErrors({ cacheDir })).toEqual([]);
  });

  it('re-links snapshot files that are copies of an existing blob, and never follows links', async () => {
    const base = await makeTempDir();
    const cacheDir = join(base, 'hub');
    const built = await buildCache({ cacheDir, repos: [{ repoId: 'org/m', revisions: [{ refs: ['main'], files: { 'w.gguf': Buffer.alloc(2048, 4), 'c.json': '{}' } }] }] });
    const w = built.repos[0]!.revisions[0]!.files['w.gguf']!;
    // Replace the link with a copy of the blob, as a copying tool or `cp -L` would.
    await unlink(w.snapshotPath);
    await writeFile(w.snapshotPath, Buffer.alloc(2048, 4));
    // A link to a file outside the cache: doctor must not chmod or chgrp its target.
    const outside = join(base, 'outside.txt');
    await writeFile(outside, 'x', { mode: 0o600 });
    await symlink(outside, join(cacheDir, 'escape'));
    const report = await doctorCache({ cacheDir, fix: true, group: '4242' });
    expect(report.findings.find((f) => f.code === 'copy-of-blob')?.path).toBe(w.snapshotPath);
    const escape = report.findings.find((f) => f.path === join(cacheDir, 'escape'));
    expect(escape).toMatchObject({ code: 'absolute-link', fixable: false });
    expect(report.failed).toEqual([]);
    expect(await readlink(w.snapshotPath)).toBe(`../../blobs/${w.etag}`);
    const outsideStats = await stat(outside);
    expect(outsideStats.mode & 0o777).toBe(0o600);
    expect(outsideStats.gid).not.toBe(4242);
    expect(await verifyErrors({ cacheDir })).toEqual([]);
    const again = await doctorCache({ cacheDir, group: '4242' });
    expect(again.findings.map((f) => f.code)).toEqual(['absolute-link']);
  });
});
