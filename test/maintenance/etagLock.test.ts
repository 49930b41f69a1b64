/**
 * One etag rule: a blob or partial named after an etag with dots (validateEtag
 * allows them) must be matched to that etag's lock, or prune/gc probe the wrong
 * lock and delete a file a live writer holds. The holder is a real process
 * (Python's fcntl.flock, what filelock uses), not a lock taken in this process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { access, mkdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { etagCandidatesOfBlobFileName, isValidEtag } from '../../src/cache/etag.js';
import { adoptPartial } from '../../src/download/adoptPartial.js';
import { executePlan } from '../../src/maintenance/executePlan.js';
import { etagLockState } from '../../src/maintenance/etagLock.js';
import { planGc } from '../../src/maintenance/planGc.js';
import { planPrune } from '../../src/maintenance/planPrune.js';
import { buildCache } from '../helpers/cacheBuilder.js';
import { pythonHub } from '../helpers/pythonHub.js';
import { makeTempDir } from '../helpers/tempDir.js';

const OLD = new Date(Date.now() - 3 * 86400_000);
const exists = (path: string): Promise<boolean> => access(path).then(() => true, () => false);
const DOTTED = 'v2.abc123-def.gguf';

/** Holds `path` with fcntl.flock until stdin ends, like filelock's UnixFileLock. */
const PY_HOLD = [
  'import fcntl, os, sys',
  'fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o664)',
  'fcntl.flock(fd, fcntl.LOCK_EX)',
  'print("locked", flush=True)',
  'sys.stdin.read()',
].join('\n');

const holders = new Set<ChildProcess>();
afterEach(() => {
  for (const child of holders) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  holders.clear();
});

async function holdLock(path: string): Promise<() => Promise<void>> {
  const python = pythonHub() ?? 'python3';
  await mkdir(join(path, '..'), { recursive: true });
  const child = spawn(python, ['-c', PY_HOLD, path], { stdio: ['pipe', 'pipe', 'inherit'] });
  holders.add(child);
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('locked')) resolve();
    });
    void exited.then(() => reject(new Error(`lock holder exited early: ${out}`)));
  });
  return async () => {
    child.stdin!.end();
    await exited;
  };
}

async function cacheWithRepo(): Promise<{ cacheDir: string; blobsDir: string; folder: string }> {
  const cacheDir = join(await makeTempDir(), 'hub');
  const built = await buildCache({ cacheDir, repos: [{ repoId: 'org/model', revisions: [{ refs: ['main'], files: { 'c.json': '{}' } }] }] });
  const paths = built.repos[0]!.paths;
  return { cacheDir, blobsDir: paths.blobsDir, folder: paths.folderName };
}

describe('one etag rule', () => {
  it('derives the etag from every writer\'s partial name, dots included', () => {
    expect(isValidEtag(DOTTED)).toBe(true);
    expect(isValidEtag('.hidden')).toBe(false);
    expect(isValidEtag('a/b')).toBe(false);
    // hubcache and huggingface_hub >= 1.33: <etag>.<8 hex>.incomplete
    expect(etagCandidatesOfBlobFileName(`${DOTTED}.0a1b2c3d.incomplete`)).toContain(DOTTED);
    // older huggingface_hub: <etag>.incomplete
    expect(etagCandidatesOfBlobFileName(`${DOTTED}.incomplete`)).toEqual([DOTTED]);
    // llama.cpp: <etag>.downloadInProgress
    expect(etagCandidatesOfBlobFileName(`${DOTTED}.downloadInProgress`)).toEqual([DOTTED]);
    // a complete blob is its etag
    expect(etagCandidatesOfBlobFileName(DOTTED)).toEqual([DOTTED]);
    expect(etagCandidatesOfBlobFileName('.0a1b2c3d.incomplete')).toEqual([]);
  });

  it('a partial of a dotted etag held by a live writer survives prune', async () => {
    const { cacheDir, blobsDir, folder } = await cacheWithRepo();
    const partial = join(blobsDir, `${DOTTED}.0a1b2c3d.incomplete`);
    await writeFile(partial, Buffer.alloc(100, 7));
    await utimes(partial, OLD, OLD);
    const release = await holdLock(join(cacheDir, '.locks', folder, `${DOTTED}.lock`));
    try {
      const plan = await planPrune({ cacheDir, partialMinAgeMs: 0 });
      await executePlan({ cacheDir, plan });
      expect(await exists(partial)).toBe(true);
      expect(await etagLockState({ cacheDir, repo: folder, name: `${DOTTED}.0a1b2c3d.incomplete` })).toBe('held');
    } finally {
      await release();
    }
    // Once the writer is gone, the same partial is fair game.
    await executePlan({ cacheDir, plan: await planPrune({ cacheDir, partialMinAgeMs: 0 }) });
    expect(await exists(partial)).toBe(false);
  });

  it('an unlinked blob of a dotted etag that a writer is linking (lock held) survives gc', async () => {
    const { cacheDir, blobsDir, folder } = await cacheWithRepo();
    const blob = join(blobsDir, DOTTED);
    await writeFile(blob, Buffer.alloc(100, 8));
    await utimes(blob, OLD, OLD);
    const release = await holdLock(join(cacheDir, '.locks', folder, `${DOTTED}.lock`));
    try {
      const plan = await planGc({ cacheDir, minAgeMs: 0 });
      expect(plan.items.map((i) => i.path)).toContain(blob);
      const result = await executePlan({ cacheDir, plan });
      expect(result.skipped.map((s) => s.item.path)).toContain(blob);
      expect(await exists(blob)).toBe(true);
    } finally {
      await release();
    }
  });

  it('a download of etag "abc" never claims the partial of etag "abc.def"', async () => {
    const { cacheDir, blobsDir, folder } = await cacheWithRepo();
    const other = join(blobsDir, 'abc.def.0a1b2c3d.incomplete');
    await writeFile(other, Buffer.alloc(10, 1));
    await utimes(other, OLD, OLD);
    const adopted = await adoptPartial({ cacheDir, repoFolder: folder, blobsDir, etag: 'abc', size: 100, partialPath: join(blobsDir, 'abc.11111111.incomplete') });
    expect(adopted).toBeUndefined();
    expect(await exists(other)).toBe(true);
  });
});
