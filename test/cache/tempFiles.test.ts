/**
 * Temp files live in one folder other tools never read (`.locks/.hubcache/tmp/`):
 * a writer killed between "write the temp" and "rename it into place" must
 * leave nothing under refs/ or snapshots/ (Python's and @huggingface/hub's
 * scans read every file in refs/ as a ref), and gc sweeps what it leaves.
 */
import { spawn } from 'node:child_process';
import { watch, type FSWatcher } from 'node:fs';
import { chmod, lstat, mkdir, readdir, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { scanCacheDir } from '@huggingface/hub';
import { describe, expect, it } from 'vitest';
import { ensureCachedirTag } from '../../src/cache/ensureCachedirTag.js';
import { linkSnapshotFile } from '../../src/cache/linkSnapshotFile.js';
import { recordAccess } from '../../src/cache/accessLog.js';
import { writeRef } from '../../src/cache/writeRef.js';
import { writeServiceLink } from '../../src/manifest/writeServiceLink.js';
import { executePlan } from '../../src/maintenance/executePlan.js';
import { planGc } from '../../src/maintenance/planGc.js';
import { buildCache, fakeCommit, type BuiltCache } from '../helpers/cacheBuilder.js';
import { pythonHub, pythonScan } from '../helpers/pythonHub.js';
import { runCli } from '../helpers/runCli.js';
import { makeTempDir } from '../helpers/tempDir.js';

const dist = fileURLToPath(new URL('../../dist/', import.meta.url));
/**
 * A writer to kill -9 mid-write (plain node on the built dist/, so each start is quick): flips
 * `refs/main` between two commits and a snapshot link between two blobs as fast as it can,
 * printing `ready` once the first rounds are done.
 */
const WRITE_LOOP = `
const { writeRef } = await import(${JSON.stringify(join(dist, 'cache', 'writeRef.js'))});
const { linkSnapshotFile } = await import(${JSON.stringify(join(dist, 'cache', 'linkSnapshotFile.js'))});
const [cacheDir, repoId, commitA, commitB, etagX, etagY] = process.argv.slice(1);
const repo = { cacheDir, repoType: 'model', repoId };
for (let round = 0; ; round++) {
  const even = round % 2 === 0;
  await writeRef({ ...repo, revision: 'main', commit: even ? commitB : commitA });
  await linkSnapshotFile({ ...repo, commit: commitA, path: 'w.bin', etag: even ? etagY : etagX });
  if (round === 1) process.stdout.write('ready\\n');
}
`;
const OLD = new Date(Date.now() - 3 * 86400_000);
const lexists = (path: string): Promise<boolean> => lstat(path).then(() => true, () => false);
const tempDirOf = (cacheDir: string): string => join(cacheDir, '.locks', '.hubcache', 'tmp');

async function twoRevisions(): Promise<BuiltCache> {
  const cacheDir = join(await makeTempDir(), 'hub');
  return buildCache({
    cacheDir,
    repos: [
      {
        repoId: 'org/model',
        revisions: [
          { commit: fakeCommit('a'), refs: ['main'], files: { 'w.bin': Buffer.alloc(300, 1), 'c.json': '{}' } },
          { commit: fakeCommit('b'), files: { 'w.bin': Buffer.alloc(300, 2), 'c.json': '{}' } },
        ],
      },
    ],
  });
}

/** Every path below `dir` (files and links), relative to it. */
async function listTree(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const entry of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      if (entry.isDirectory()) await walk(join(d, entry.name));
      else out.push(relative(dir, join(d, entry.name)));
    }
  };
  await walk(dir);
  return out.sort();
}

/** Names created or renamed in `dirs` (inotify: every name shows, however short-lived) until `done` names have all shown. */
async function namesSeenWhile(dirs: string[], done: string[], work: () => Promise<void>): Promise<Set<string>> {
  const seen = new Set<string>();
  const watchers: FSWatcher[] = dirs.map((d) => watch(d, (_event, name) => name && seen.add(String(name))));
  try {
    await work();
    for (let i = 0; i < 200 && !done.every((n) => seen.has(n)); i++) await sleep(10);
  } finally {
    for (const w of watchers) w.close();
  }
  return seen;
}

describe('temp files', () => {
  it('no writer ever makes a temp name in the root, refs/, snapshots/ or links/', async () => {
    const built = await twoRevisions();
    const { cacheDir } = built;
    const repo = built.repos[0]!;
    const [a, b] = repo.revisions as [BuiltCache['repos'][0]['revisions'][0], BuiltCache['repos'][0]['revisions'][0]];
    const snapshotDir = repo.paths.snapshot(a.commit);
    const linksDir = join(dirname(cacheDir), 'links', 'svc');
    await mkdir(linksDir, { recursive: true });
    await unlink(join(cacheDir, 'CACHEDIR.TAG')).catch(() => undefined);
    const accessDir = join(cacheDir, '.locks', '.hubcache', 'access');
    await mkdir(accessDir, { recursive: true });
    const seen = await namesSeenWhile([cacheDir, repo.paths.refsDir, snapshotDir, linksDir, accessDir], ['CACHEDIR.TAG', 'main', 'w.bin', 'model', `${repo.paths.folderName}.json`], async () => {
      await ensureCachedirTag({ cacheDir });
      expect(await writeRef({ cacheDir, repoType: 'model', repoId: 'org/model', revision: 'main', commit: b.commit })).toBe(true);
      await linkSnapshotFile({ cacheDir, repoType: 'model', repoId: 'org/model', commit: a.commit, path: 'w.bin', etag: b.files['w.bin']!.etag });
      await writeServiceLink({ linkPath: join(linksDir, 'model'), target: snapshotDir });
      await recordAccess({ cacheDir, repoFolder: repo.paths.folderName, commit: a.commit });
    });
    // `.locks` shows up at the root when the temp folder is first made: other tools skip it.
    expect([...seen].filter((n) => n !== '.locks').sort()).toEqual(['CACHEDIR.TAG', 'main', 'model', `${repo.paths.folderName}.json`, 'w.bin'].sort());
  });

  it('a writer killed mid-write at any moment leaves no temp where other tools read; both scanners accept the cache', async () => {
    const built = await twoRevisions();
    const { cacheDir } = built;
    const repo = built.repos[0]!;
    const [a, b] = repo.revisions as [BuiltCache['repos'][0]['revisions'][0], BuiltCache['repos'][0]['revisions'][0]];
    const args = [cacheDir, 'org/model', a.commit, b.commit, a.files['w.bin']!.etag, b.files['w.bin']!.etag];
    // Kill until one kill has landed between "temp written" and "renamed" (a temp is left
    // somewhere), so the test proves it hit the crash window rather than hoping to.
    let leftovers = 0;
    for (let kill = 0; kill < 40 && leftovers === 0; kill++) {
      const child = spawn(process.execPath, ['--input-type=module', '-e', WRITE_LOOP, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
      let err = '';
      child.stderr.on('data', (c: Buffer) => (err += c.toString()));
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (c: Buffer) => c.toString().includes('ready') && resolve());
        void exited.then(() => reject(new Error(`writer exited early: ${err}`)));
      });
      // A varying number of rounds, so the kill lands at a different step each time.
      await sleep(10 + Math.floor(Math.random() * 50));
      child.kill('SIGKILL');
      await exited;
      expect(await listTree(repo.paths.refsDir)).toEqual(['main']);
      expect(await listTree(repo.paths.snapshot(a.commit))).toEqual(['c.json', 'w.bin']);
      leftovers = (await listTree(tempDirOf(cacheDir))).length;
    }
    expect(leftovers).toBeGreaterThan(0);
    const hfjs = await scanCacheDir(cacheDir);
    expect(hfjs.warnings.map((w) => w.message)).toEqual([]);
    expect(hfjs.repos[0]!.revisions.flatMap((r) => r.refs)).toEqual(['main']);
    const python = pythonHub();
    if (python) {
      const scan = pythonScan(python, cacheDir);
      expect(scan.error).toBeUndefined();
      expect(scan.repos.map((r) => r.refs)).toEqual([['main']]);
    } else {
      console.warn('skipped the Python scan check: .venv-hub is missing');
    }
    // Whatever the kills left is in the temp folder, and gc takes it once it is old.
    const plan = await planGc({ cacheDir, minAgeMs: 0, now: Date.now() + 3600_000 });
    const result = await executePlan({ cacheDir, plan });
    expect(result.failed).toEqual([]);
    expect(await listTree(tempDirOf(cacheDir))).toEqual([]);
  }, 180_000);

  it('gc sweeps stale temps and the names old hubcache versions left in refs/ and snapshots/, and lists them in --dry-run', async () => {
    const built = await twoRevisions();
    const { cacheDir } = built;
    const repo = built.repos[0]!;
    const a = repo.revisions[0]!;
    // What a crash of an older hubcache left: an empty temp in refs/ (read as a ref to commit "")
    // and a temp link beside a snapshot file.
    const legacyRef = join(repo.paths.refsDir, 'main.0a1b2c3d.tmp');
    const legacyLink = join(repo.paths.snapshot(a.commit), 'w.bin.0a1b2c3d.tmplink');
    await writeFile(legacyRef, '');
    await writeFile(legacyLink, '');
    const stale = join(tempDirOf(cacheDir), 'crashed-writer.tmp');
    const fresh = join(tempDirOf(cacheDir), 'in-flight.tmp');
    await mkdir(tempDirOf(cacheDir), { recursive: true });
    await writeFile(stale, 'x');
    await writeFile(fresh, 'y');
    for (const path of [legacyRef, legacyLink, stale]) await utimes(path, OLD, OLD);
    const python = pythonHub();
    if (python) expect(pythonScan(python, cacheDir).repos).toEqual([]);

    const dry = await runCli({ args: ['gc', '--dry-run', '--json', '--min-age', '0s', '--cache-dir', cacheDir] });
    expect(dry.code, dry.stderr).toBe(0);
    const planned = (dry.json().plan.items as { kind: string; path: string }[]).filter((i) => i.kind === 'temp').map((i) => i.path).sort();
    // The fresh temp stays even with --min-age 0: a writer may be about to rename it.
    expect(planned).toEqual([legacyLink, legacyRef, stale].sort());
    expect(await lexists(stale)).toBe(true);

    const run = await runCli({ args: ['gc', '--yes', '--min-age', '0s', '--cache-dir', cacheDir] });
    expect(run.code, run.stderr).toBe(0);
    for (const path of [legacyRef, legacyLink, stale]) expect(await lexists(path)).toBe(false);
    expect(await lexists(fresh)).toBe(true);
    expect(await listTree(repo.paths.refsDir)).toEqual(['main']);
    if (python) {
      const scan = pythonScan(python, cacheDir);
      expect(scan.error).toBeUndefined();
      expect(scan.repos.map((r) => r.refs)).toEqual([['main']]);
    }
  });

  it('makes the temp folder as open as its parent, so the group\'s other users can still write refs', async () => {
    const built = await twoRevisions();
    const { cacheDir } = built;
    const own = join(cacheDir, '.locks', '.hubcache');
    await mkdir(own, { recursive: true });
    // A shared cache after `doctor --fix`: group rwx + setgid; this process's umask (022) would make 0755.
    await chmod(own, 0o2775);
    await writeRef({ cacheDir, repoType: 'model', repoId: 'org/model', revision: 'main', commit: built.repos[0]!.revisions[1]!.commit });
    expect((await stat(tempDirOf(cacheDir))).mode & 0o7777).toBe(0o2775);
  });
});
