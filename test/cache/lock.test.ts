/**
 * Real locks, real files, real processes: hubcache's flock locks must exclude
 * util-linux flock, Python (fcntl.flock, what filelock uses) and other
 * hubcache processes, and survive the unlink races filelock guards against.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmod, lstat, mkdir, mkdtemp, readFile, rm, stat, symlink, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { isHubcacheError } from '../../src/errors.js';
import { findPackageRoot, loadFlockBinding } from '../../src/cache/flock.js';
import { acquireLock, isLockHeld, tryLock, withLock, type HeldLock } from '../../src/cache/lock.js';
import { lockHolders } from '../../src/cache/lockHolders.js';

const here = dirname(fileURLToPath(import.meta.url));
const packageRoot = join(here, '..', '..');
const holdLockScript = join(here, 'fixtures', 'holdLock.ts');
const churnScript = join(here, 'fixtures', 'churnLock.py');

/** Holds a lock with stdlib fcntl.flock until stdin ends, like filelock's UnixFileLock. */
const PY_HOLD = [
  'import fcntl, os, sys',
  'fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)',
  'fcntl.flock(fd, fcntl.LOCK_EX)',
  'print("locked", flush=True)',
  'sys.stdin.read()',
].join('\n');
/** Exit 3 when the lock is taken, 0 when it could take it. */
const PY_TRY = [
  'import fcntl, os, sys',
  'fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)',
  'try:',
  '    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)',
  'except BlockingIOError:',
  '    sys.exit(3)',
  'sys.exit(0)',
].join('\n');

let dir: string;
const children = new Set<ChildProcess>();

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hubcache-lock-'));
});

afterEach(async () => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  children.clear();
  await rm(dir, { recursive: true, force: true });
});

function lockPath(name = 'abc.lock'): string {
  return join(dir, '.locks', 'models--org--name', name);
}

interface Started {
  child: ChildProcess;
  /** Everything printed on stdout so far. */
  output: () => string;
  /** Ends stdin (holders then let go) and waits for the exit code. */
  finish: () => Promise<number | null>;
  exited: Promise<number | null>;
}

/** Spawns a process and resolves once a stdout line contains `ready`. */
function start(command: string, args: string[], ready: string, opts: { cwd?: string } = {}): Promise<Started> {
  const child = spawn(command, args, { cwd: opts.cwd ?? packageRoot, stdio: ['pipe', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  let err = '';
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${command} not ready after 20 s: ${out}${err}`)), 20_000);
    child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes(ready)) {
        clearTimeout(timer);
        resolve({
          child,
          output: () => out,
          exited,
          finish: async () => {
            child.stdin!.end();
            return exited;
          },
        });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${command} exited (${code}) before "${ready}": ${out}${err}`));
    });
  });
}

function startHubcacheHolder(path: string): Promise<Started> {
  return start(process.execPath, ['--import', 'tsx', holdLockScript, path], '"locked"');
}

/** Settles with whether the promise finished within `ms`, without consuming its result. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let done = false;
  promise.then(
    () => (done = true),
    () => (done = true),
  );
  await new Promise((r) => setTimeout(r, ms));
  return done;
}

function run(command: string, args: string[]): number | null {
  return spawnSync(command, args, { stdio: 'ignore', timeout: 20_000 }).status;
}

describe('acquireLock', () => {
  it('creates the lock file 0664 under umask 022, leaves it in place and never truncates it', async () => {
    const path = lockPath();
    const oldUmask = process.umask(0o022);
    try {
      const lock = await acquireLock({ path });
      expect((await stat(path)).mode & 0o777).toBe(0o664);
      expect(await isLockHeld({ path })).toBe(true);
      await lock.release();
      await lock.release(); // twice is harmless
      expect(await isLockHeld({ path })).toBe(false);
      expect((await stat(path)).isFile()).toBe(true);

      // Someone else's content (older tools wrote pids) must survive our lock.
      await writeFile(path, 'pid 42\n');
      const again = await acquireLock({ path });
      expect(await readFile(path, 'utf8')).toBe('pid 42\n');
      await again.release();
    } finally {
      process.umask(oldUmask);
    }
  });

  it('does not change the mode of a lock file someone else created', async () => {
    const path = lockPath();
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, '', { mode: 0o600 });
    await chmod(path, 0o600);
    const lock = await acquireLock({ path });
    await lock.release();
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it('serialises two acquisitions in the same process (two fds conflict)', async () => {
    const path = lockPath();
    const first = await acquireLock({ path });
    const second = acquireLock({ path, pollMs: 10 });
    expect(await settlesWithin(second, 300)).toBe(false);
    await first.release();
    const held = await second;
    expect(await isLockHeld({ path })).toBe(true);
    await held.release();
  });

  it('waits for another hubcache process and excludes it in turn', async () => {
    const path = lockPath();
    const holder = await startHubcacheHolder(path);
    const waiting = acquireLock({ path, pollMs: 10 });
    expect(await settlesWithin(waiting, 400)).toBe(false);
    expect(await holder.finish()).toBe(0);
    const ours = await waiting;

    // Now the child is the one that must wait: it times out.
    const child = spawnSync(process.execPath, ['--import', 'tsx', holdLockScript, path, '200'], {
      cwd: packageRoot,
      encoding: 'utf8',
      input: '',
      timeout: 20_000,
    });
    expect(child.status).toBe(1);
    expect(child.stdout).toContain('"E_LOCK_TIMEOUT"');
    await ours.release();
  });

  it('interoperates with util-linux flock(1)', async () => {
    const path = lockPath();
    await mkdir(dirname(path), { recursive: true });

    // flock -x path sleep 1: we must wait for it.
    const started = Date.now();
    const sleeper = spawn('flock', ['-x', path, 'sleep', '1'], { stdio: 'ignore' });
    children.add(sleeper);
    const exited = new Promise((r) => sleeper.once('close', r));
    while (!(await isLockHeld({ path }))) await new Promise((r) => setTimeout(r, 10));
    const lock = await acquireLock({ path, pollMs: 10 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    await exited;

    // We hold it: flock -n fails (exit 1), and succeeds once we let go.
    expect(run('flock', ['-n', path, 'true'])).toBe(1);
    await lock.release();
    expect(run('flock', ['-n', path, 'true'])).toBe(0);
  });

  it('interoperates with Python fcntl.flock (what filelock uses)', async () => {
    const path = lockPath();
    await mkdir(dirname(path), { recursive: true });
    const py = await start('python3', ['-c', PY_HOLD, path], 'locked');
    const waiting = acquireLock({ path, pollMs: 10 });
    expect(await settlesWithin(waiting, 300)).toBe(false);
    expect((await lockHolders({ path })).map((h) => h.pid)).toEqual([py.child.pid]);
    await py.finish();
    const lock = await waiting;

    expect(run('python3', ['-c', PY_TRY, path])).toBe(3);
    await lock.release();
    expect(run('python3', ['-c', PY_TRY, path])).toBe(0);
  });

  it('interoperates with the filelock package itself, when a Python has it', async () => {
    const python = ['python3', '/usr/bin/python3'].find((p) => run(p, ['-c', 'import filelock']) === 0);
    if (!python) {
      console.warn('skipped: no python3 with the filelock package (apt-get install python3-filelock)');
      return;
    }
    const path = lockPath();
    await mkdir(dirname(path), { recursive: true });
    const script = [
      'import sys, filelock',
      'lock = filelock.FileLock(sys.argv[1])',
      'with lock.acquire(timeout=20):',
      '    print("locked", flush=True)',
      '    sys.stdin.read()',
    ].join('\n');
    const py = await start(python, ['-c', script, path], 'locked');
    const waiting = acquireLock({ path, pollMs: 10 });
    expect(await settlesWithin(waiting, 300)).toBe(false);
    await py.finish();
    const lock = await waiting;
    const tryScript = 'import sys, filelock\ntry:\n    filelock.FileLock(sys.argv[1]).acquire(timeout=0.2)\nexcept filelock.Timeout:\n    sys.exit(3)';
    expect(run(python, ['-c', tryScript, path])).toBe(3);
    await lock.release();
    expect(run(python, ['-c', tryScript, path])).toBe(0);
  });

  it('reports whom it waits for: pid and command, in onWait and in the timeout error', async () => {
    const path = lockPath();
    await mkdir(dirname(path), { recursive: true });
    const holder = await start('flock', ['-x', path, '-c', 'echo locked; read _'], 'locked');
    const pid = holder.child.pid!;

    const holders = await lockHolders({ path });
    expect(holders).toEqual([{ pid, command: expect.stringContaining('flock -x') }]);

    const waits: Array<{ path: string; holders: Array<{ pid: number }>; waitedMs: number }> = [];
    const err: unknown = await acquireLock({ path, timeoutMs: 300, pollMs: 20, onWait: (info) => waits.push(info) }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isHubcacheError(err, 'E_LOCK_TIMEOUT')).toBe(true);
    const timeout = err as Error & { data: Record<string, unknown>; exitCode: number };
    expect(timeout.message).toContain(path);
    expect(timeout.message).toContain(String(pid));
    expect(timeout.data.path).toBe(path);
    expect(timeout.data.holders).toEqual([{ pid, command: expect.stringContaining('flock') }]);
    expect(timeout.exitCode).toBe(1);
    expect(waits).toHaveLength(1); // first report at once; repeats only every 10 s
    expect(waits[0]).toMatchObject({ path, holders: [{ pid }] });
    await holder.finish();
    expect(await lockHolders({ path })).toEqual([]);
  });

  it('with timeoutMs 0 tries exactly once', async () => {
    const path = lockPath();
    const first = await acquireLock({ path, timeoutMs: 0 });
    const started = Date.now();
    await expect(acquireLock({ path, timeoutMs: 0 })).rejects.toMatchObject({ code: 'E_LOCK_TIMEOUT' });
    expect(Date.now() - started).toBeLessThan(1000);
    await first.release();
  });

  it('gets the lock that is at the path when the file is unlinked while it waits', async () => {
    const path = lockPath();
    const holder = await startHubcacheHolder(path);
    const orphan = await stat(path);
    const waiting = acquireLock({ path, pollMs: 10 });
    expect(await settlesWithin(waiting, 200)).toBe(false);

    // A cleanup deletes the file under the holder's feet: the waiter must lock
    // the new file at the path, not keep waiting on (or take) the orphan.
    await unlink(path);
    const lock = await waiting;
    const now = await stat(path);
    expect(now.ino).not.toBe(orphan.ino);
    expect((await lockHolders({ path })).map((h) => h.pid)).toEqual([process.pid]);
    await lock.release();
    await holder.finish();
  });

  it('never ends up holding a stale file while another tool deletes or moves lock files under load', async () => {
    const path = lockPath();
    await mkdir(dirname(path), { recursive: true });
    const churn = await start('python3', [churnScript, path], 'started');
    for (let i = 0; i < 100; i += 1) {
      const lock = await acquireLock({ path, pollMs: 1 });
      // The kernel's view: the file now at the path is locked by us and only
      // us. Holding an orphan would show the churner (or nobody) here.
      const holders = await lockHolders({ path });
      expect(holders.map((h) => h.pid)).toEqual([process.pid]);
      await lock.release();
    }
    await churn.finish();
    expect(churn.output()).toMatch(/churned [1-9]/);
  });

  it('takes over a lock whose holder was killed with SIGKILL', async () => {
    const path = lockPath();
    await mkdir(dirname(path), { recursive: true });
    const holder = await start('python3', ['-c', PY_HOLD, path], 'locked');
    expect(await isLockHeld({ path })).toBe(true);
    holder.child.kill('SIGKILL');
    await holder.exited;
    const lock = await acquireLock({ path, timeoutMs: 5000 });
    await lock.release();
  });

  it('rejects with the signal reason when aborted, before or while waiting', async () => {
    const path = lockPath();
    const first = await acquireLock({ path });

    const reason = new Error('user pressed ctrl-c');
    await expect(acquireLock({ path, signal: AbortSignal.abort(reason) })).rejects.toBe(reason);

    const controller = new AbortController();
    const waiting = acquireLock({ path, signal: controller.signal });
    expect(await settlesWithin(waiting, 150)).toBe(false);
    controller.abort(reason);
    await expect(waiting).rejects.toBe(reason);

    await first.release();
    // The aborted waiter left nothing held behind.
    expect(await isLockHeld({ path })).toBe(false);
  });

  it('refuses a symlink at the lock path (O_NOFOLLOW) and creates nothing behind it', async () => {
    const path = lockPath();
    await mkdir(dirname(path), { recursive: true });
    const target = join(dir, 'elsewhere');
    await symlink(target, path);
    await expect(acquireLock({ path, timeoutMs: 0 })).rejects.toMatchObject({ code: 'ELOOP' });
    await expect(lstat(target)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('isLockHeld', () => {
  it('is false for a missing file and does not create it', async () => {
    const path = lockPath();
    expect(await isLockHeld({ path })).toBe(false);
    await expect(lstat(path)).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(lstat(dirname(path))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('sees a lock held by another process and lets go of its probe', async () => {
    const path = lockPath();
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, '');
    expect(await isLockHeld({ path })).toBe(false);
    // The probe took and dropped the lock: flock(1) can take it straight after.
    expect(run('flock', ['-n', path, 'true'])).toBe(0);
    const holder = await start('flock', ['-x', path, '-c', 'echo locked; read _'], 'locked');
    expect(await isLockHeld({ path })).toBe(true);
    await holder.finish();
    expect(await isLockHeld({ path })).toBe(false);
  });
});

describe('withLock', () => {
  it('holds the lock during fn and releases it when fn throws', async () => {
    const path = lockPath();
    const boom = new Error('boom');
    await expect(
      withLock({
        path,
        fn: async () => {
          expect(await isLockHeld({ path })).toBe(true);
          throw boom;
        },
      }),
    ).rejects.toBe(boom);
    expect(await isLockHeld({ path })).toBe(false);
    expect(await withLock({ path, fn: async () => 42 })).toBe(42);
  });
});

// Root ignores file permissions, so these run the other side as `nobody`.
const canDropPrivileges = process.getuid?.() === 0 && run('setpriv', ['--version']) === 0;
describe.skipIf(!canDropPrivileges)('permissions (as user nobody)', () => {
  function asNobody(path: string, timeoutMs: number): { status: number | null; stdout: string } {
    const r = spawnSync(
      'setpriv',
      ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '--import', 'tsx', holdLockScript, path, String(timeoutMs)],
      { cwd: packageRoot, encoding: 'utf8', input: '', timeout: 20_000 },
    );
    return { status: r.status, stdout: r.stdout };
  }

  beforeEach(async () => {
    await chmod(dir, 0o755);
  });

  it('reports E_PERMISSION when the lock file cannot be created', async () => {
    const path = lockPath();
    await mkdir(dirname(path), { recursive: true, mode: 0o755 });
    const r = asNobody(path, 0);
    expect(r.stdout).toContain('"E_PERMISSION"');
    expect(r.status).toBe(1);
  });

  it("locks someone else's read-only 0644 lock file through a read-only fd", async () => {
    const path = lockPath();
    await mkdir(dirname(path), { recursive: true, mode: 0o755 });
    await writeFile(path, '', { mode: 0o644 });
    // Free: nobody gets it (Python's O_RDWR open would fail here).
    expect(asNobody(path, 0)).toMatchObject({ status: 0, stdout: expect.stringContaining('"locked"') });
    // Held by us: nobody must still be excluded.
    const lock: HeldLock = await acquireLock({ path });
    expect(asNobody(path, 100).stdout).toContain('"E_LOCK_TIMEOUT"');
    await lock.release();
  });
});

describe('native addon loading', () => {
  it('finds the package root from src/', () => {
    expect(findPackageRoot()).toBe(packageRoot);
  });

  it('explains how to fix a missing addon', () => {
    let err: unknown;
    try {
      loadFlockBinding({ packageRoot: dir });
    } catch (e) {
      err = e;
    }
    expect(isHubcacheError(err, 'E_INTERNAL')).toBe(true);
    expect((err as Error & { hint: string }).hint).toContain('npm rebuild');
    expect((err as Error).message).toContain(join(dir, 'build', 'Release', 'hubcache_flock.node'));
  });

  it('refuses to block the event loop and names errnos like Node does', () => {
    const binding = loadFlockBinding();
    expect(() => binding.flock(0, binding.LOCK_EX)).toThrow(/LOCK_NB/);
    expect(() => binding.flock(987_654, binding.LOCK_UN)).toThrow(expect.objectContaining({ code: 'EBADF', syscall: 'flock' }));
  });
});

describe('tryLock', () => {
  it('never waits: undefined while another process holds the lock, the lock once it is free', async () => {
    const path = lockPath();
    await mkdir(dirname(path), { recursive: true });
    const holder = await start('flock', ['-x', path, '-c', 'echo locked; read _'], 'locked');
    expect(await tryLock({ path })).toBeUndefined();
    await holder.finish();
    const lock = await tryLock({ path });
    expect(lock).toBeDefined();
    // While we hold it, flock(1) cannot take it.
    expect(run('flock', ['-n', path, 'true'])).not.toBe(0);
    await lock!.release();
    expect(run('flock', ['-n', path, 'true'])).toBe(0);
  });
});
