/**
 * What must hold however a cleanup ends or whatever the cache contains:
 * a run stopped between any two steps (by a throwing hook, or a real process
 * killed with SIGKILL) leaves no link to a missing blob, and links that lead
 * outside the cache, or a cache root that is itself a link, never get
 * anything outside the root deleted.
 */
import { spawn } from 'node:child_process';
import { access, lstat, mkdir, readFile, readdir, readlink, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { executePlan } from '../../src/maintenance/executePlan.js';
import { makePlan } from '../../src/maintenance/plan.js';
import { planGc } from '../../src/maintenance/planGc.js';
import { planPrune } from '../../src/maintenance/planPrune.js';
import { planRm } from '../../src/maintenance/planRm.js';
import { parseRmTarget } from '../../src/maintenance/rmTarget.js';
import { buildCache, fakeCommit, sha256, type BuiltCache } from '../helpers/cacheBuilder.js';
import { makeTempDir } from '../helpers/tempDir.js';
import { hfjsWarnings, newWarnings, verifyErrors } from './cacheHealth.js';

const here = dirname(fileURLToPath(import.meta.url));
const packageRoot = join(here, '..', '..');
const slowRunner = join(here, 'fixtures', 'runPlanSlowly.ts');
const exists = (path: string): Promise<boolean> => access(path).then(() => true, () => false);

/** Three repos, revisions sharing blobs, nested files, refs: enough steps of every kind. */
async function busyCache(cacheDir: string): Promise<BuiltCache> {
  const shared = Buffer.alloc(3000, 1);
  return buildCache({
    cacheDir,
    repos: [
      {
        repoId: 'org/a',
        revisions: [
          { refs: ['v1', 'refs/pr/1'], files: { 'w.gguf': shared, 'c.json': '1', 'sub/t.json': 't1' } },
          { refs: ['main'], files: { 'w.gguf': shared, 'c.json': '2', 'sub/t.json': 't2' } },
        ],
      },
      { repoId: 'org/b', revisions: [{ refs: ['main'], files: { 'x.bin': Buffer.alloc(500, 2), 'y/z.bin': Buffer.alloc(600, 3) } }] },
      { repoId: 'org/c', revisions: [{ files: { 'old.bin': Buffer.alloc(700, 4) } }, { refs: ['main'], files: { 'new.bin': Buffer.alloc(800, 5) } }] },
    ],
  });
}

const RM_TARGETS = ['org/a@v1', 'org/b'];

/** rm of each target still cached, then prune and gc. */
async function finish(params: { cacheDir: string; targets: string[] }): Promise<void> {
  const { cacheDir } = params;
  for (const text of params.targets) {
    const plan = await planRm({ cacheDir, targets: [parseRmTarget({ text })] }).catch((err: unknown) => {
      if ((err as { code?: string }).code === 'E_NOT_CACHED') return undefined;
      throw err;
    });
    if (!plan) continue;
    expect((await executePlan({ cacheDir, plan })).failed).toEqual([]);
  }
  for (const plan of [await planPrune({ cacheDir, partialMinAgeMs: 0 }), await planGc({ cacheDir, minAgeMs: 0 })]) {
    expect((await executePlan({ cacheDir, plan })).failed).toEqual([]);
  }
}

/** Every path under the folder, relative, with link targets. */
async function tree(params: { dir: string }): Promise<string[]> {
  const out: string[] = [];
  async function walk(dir: string, prefix: string): Promise<void> {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        out.push(`${rel}/`);
        await walk(join(dir, entry.name), rel);
      } else out.push(entry.isSymbolicLink() ? `${rel} -> ${await readlink(join(dir, entry.name))}` : rel);
    }
  }
  await walk(params.dir, '');
  return out.sort();
}

describe('crash between plan steps', () => {
  it('leaves a cache that verifies clean wherever the run stops (hook), and a rerun finishes the job', async () => {
    // The cache an uninterrupted run leaves, for comparison.
    const reference = join(await makeTempDir(), 'hub');
    await busyCache(reference);
    const steps = (await planRm({ cacheDir: reference, targets: RM_TARGETS.map((text) => parseRmTarget({ text })) })).items.length;
    await finish({ cacheDir: reference, targets: RM_TARGETS });
    expect(steps).toBeGreaterThan(15);
    const expected = await tree({ dir: reference });
    for (let stopAfter = 0; stopAfter < steps; stopAfter++) {
      const cacheDir = join(await makeTempDir(), 'hub');
      await busyCache(cacheDir);
      const warnings = await hfjsWarnings({ cacheDir });
      const plan = await planRm({ cacheDir, targets: RM_TARGETS.map((text) => parseRmTarget({ text })) });
      const crash = new Error('injected crash');
      const err = await executePlan({
        cacheDir,
        plan,
        onStep: (step) => {
          if (step.index === stopAfter) throw crash;
        },
      }).catch((e: unknown) => e);
      expect(err).toBe(crash);
      expect(await verifyErrors({ cacheDir }), `stopped after step ${stopAfter} (${plan.items[stopAfter]?.kind})`).toEqual([]);
      expect(newWarnings({ before: warnings, after: await hfjsWarnings({ cacheDir }) })).toEqual([]);
      // Running the command again (for what is still there), then prune and gc, ends where an uninterrupted run does.
      await finish({ cacheDir, targets: RM_TARGETS });
      expect(await verifyErrors({ cacheDir })).toEqual([]);
      expect(await tree({ dir: cacheDir }), `stopped after step ${stopAfter}`).toEqual(expected);
    }
  });

  it('leaves a cache that verifies clean when a real cleanup process is killed with SIGKILL', async () => {
    const reference = join(await makeTempDir(), 'hub');
    await busyCache(reference);
    await finish({ cacheDir: reference, targets: RM_TARGETS });
    const expected = await tree({ dir: reference });
    for (const killAt of ['link', 'blob', 'folder']) {
      const cacheDir = join(await makeTempDir(), 'hub');
      await busyCache(cacheDir);
      const child = spawn(process.execPath, ['--import', 'tsx', slowRunner, cacheDir, ...RM_TARGETS], {
        cwd: packageRoot,
        env: { ...process.env, HUBCACHE_STEP_MS: '25' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('close', (_code, signal) => resolve(signal)));
      let buffered = '';
      let stepsSeen = 0;
      child.stdout.on('data', (chunk: Buffer) => {
        buffered += chunk.toString();
        const lines = buffered.split('\n');
        buffered = lines.pop() ?? '';
        for (const line of lines) {
          const event = JSON.parse(line) as { event: string; kind?: string };
          if (event.event === 'step') stepsSeen += 1;
          // Kill in the middle of a phase: the first step of that kind is done, the rest is not.
          if (event.event === 'step' && event.kind === killAt) child.kill('SIGKILL');
        }
      });
      expect(await exited, stderr).toBe('SIGKILL');
      expect(stepsSeen).toBeGreaterThan(0);
      expect(await verifyErrors({ cacheDir }), `killed during ${killAt}`).toEqual([]);
      // Running the command again, then prune and gc, ends where an uninterrupted run does.
      await finish({ cacheDir, targets: RM_TARGETS });
      expect(await tree({ dir: cacheDir })).toEqual(expected);
    }
  });
});

describe('nothing outside the cache root is touched', () => {
  async function outsideFiles(base: string): Promise<{ dir: string; secret: string; blobLike: string }> {
    const dir = join(base, 'outside');
    await mkdir(join(dir, 'nested'), { recursive: true });
    const secret = join(dir, 'secret.txt');
    await writeFile(secret, 'do not delete');
    const blobLike = join(dir, sha256(Buffer.from('x')));
    await writeFile(blobLike, 'x');
    await writeFile(join(dir, 'nested', 'file'), 'keep');
    return { dir, secret, blobLike };
  }

  async function expectIntact(out: { dir: string; secret: string; blobLike: string }): Promise<void> {
    expect(await readFile(out.secret, 'utf8')).toBe('do not delete');
    expect(await readFile(out.blobLike, 'utf8')).toBe('x');
    expect(await readFile(join(out.dir, 'nested', 'file'), 'utf8')).toBe('keep');
  }

  it('removes links that point outside, never their targets, through rm, prune and gc', async () => {
    const base = await makeTempDir();
    const out = await outsideFiles(base);
    const cacheDir = join(base, 'hub');
    const built = await buildCache({
      cacheDir,
      repos: [
        { repoId: 'org/evil', revisions: [{ files: { 'ok.json': '{}' } }, { refs: ['main'], files: { 'ok.json': '{"v":2}' } }] },
        { repoId: 'org/linked-blobs', revisions: [{ refs: ['main'], files: { 'a.json': 'a' } }] },
      ],
    });
    const evil = built.repos[0]!;
    const old = evil.revisions[0]!.commit;
    // Links out of the cache, absolute and relative, inside a snapshot that prune will remove.
    await symlink(out.secret, join(evil.paths.snapshot(old), 'abs-escape'));
    await symlink(join('..', '..', '..', '..', 'outside', 'secret.txt'), join(evil.paths.snapshot(old), 'rel-escape'));
    await symlink(out.dir, join(evil.paths.snapshot(old), 'dir-escape'));
    // A .no_exist folder and a whole repo folder that are links to outside folders.
    await mkdir(evil.paths.noExistDir, { recursive: true });
    await symlink(out.dir, join(evil.paths.noExistDir, fakeCommit('gone')));
    await symlink(out.dir, join(cacheDir, 'models--org--outside'));
    // A repo whose blobs/ folder is a link to an outside folder holding a blob-named file.
    const linked = built.repos[1]!;
    await import('node:fs/promises').then(async (fs) => {
      await fs.rm(linked.paths.blobsDir, { recursive: true });
      await fs.symlink(out.dir, linked.paths.blobsDir);
    });

    for (const plan of [
      await planPrune({ cacheDir, partialMinAgeMs: 0 }),
      await planGc({ cacheDir, minAgeMs: 0 }),
      await planRm({ cacheDir, targets: ['org/evil', 'org/linked-blobs'].map((text) => parseRmTarget({ text })) }),
    ]) {
      for (const item of plan.items) expect(item.path.startsWith(`${cacheDir}/`), item.path).toBe(true);
      await executePlan({ cacheDir, plan });
      await expectIntact(out);
    }
    expect(await exists(evil.paths.repoDir)).toBe(false);
    // The link to the outside folder was not a repo: hubcache leaves it alone.
    expect((await lstat(join(cacheDir, 'models--org--outside'))).isSymbolicLink()).toBe(true);
  });

  it('refuses plan items outside the root or behind a linked folder, whatever the plan says', async () => {
    const base = await makeTempDir();
    const out = await outsideFiles(base);
    const cacheDir = join(base, 'hub');
    await buildCache({ cacheDir, repos: [] });
    await mkdir(join(cacheDir, 'models--org--x'), { recursive: true });
    await symlink(out.dir, join(cacheDir, 'models--org--x', 'blobs'));
    const plan = makePlan({
      command: 'gc',
      cacheDir,
      items: [
        { kind: 'blob', path: join(cacheDir, '..', 'outside', 'secret.txt'), bytes: 13, reason: 'forged', repo: 'models--org--x' },
        { kind: 'blob', path: join(cacheDir, 'models--org--x', 'blobs', 'secret.txt'), bytes: 13, reason: 'forged', repo: 'models--org--x' },
        { kind: 'folder', path: join(cacheDir, 'models--org--x', 'blobs', 'nested'), bytes: 0, reason: 'forged', repo: 'models--org--x' },
      ],
    });
    const result = await executePlan({ cacheDir, plan });
    expect(result.failed.map((s) => s.detail)).toEqual([expect.stringContaining('Refusing'), expect.stringContaining('Refusing'), expect.stringContaining('Refusing')]);
    expect(result.bytesFreed).toBe(0);
    await expectIntact(out);
  });

  it('works through a cache root that is itself a link, and only inside its target', async () => {
    const base = await makeTempDir();
    const out = await outsideFiles(base);
    const real = join(base, 'volume', 'hub');
    const built = await busyCache(real);
    const cacheDir = join(base, 'hub-link');
    await symlink(real, cacheDir);
    await symlink(out.secret, join(built.repos[2]!.paths.snapshot(built.repos[2]!.revisions[0]!.commit), 'escape'));
    for (const plan of [
      await planRm({ cacheDir, targets: ['org/a@v1', 'org/b'].map((text) => parseRmTarget({ text })) }),
      await planPrune({ cacheDir, partialMinAgeMs: 0 }),
      await planGc({ cacheDir, minAgeMs: 0 }),
    ]) {
      const result = await executePlan({ cacheDir, plan });
      expect(result.failed).toEqual([]);
      await expectIntact(out);
    }
    expect((await lstat(cacheDir)).isSymbolicLink()).toBe(true);
    // `.locks/` holds the etag locks the cleanup took to remove blobs (lock files are never deleted).
    expect((await readdir(real)).sort()).toEqual(['.locks', 'CACHEDIR.TAG', 'models--org--a', 'models--org--c']);
    expect(await verifyErrors({ cacheDir })).toEqual([]);
  });
});
