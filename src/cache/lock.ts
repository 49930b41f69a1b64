/**
 * Cache locks that exclude huggingface_hub (Python filelock's UnixFileLock),
 * util-linux flock and llama.cpp: an flock(2) exclusive lock on
 * `<root>/.locks/<repo-folder>/<etag>.lock`, taken exactly the way filelock
 * takes it (huggingface_hub's filelock rules for the shared cache):
 *
 *   open(O_RDWR|O_CREAT|O_NOFOLLOW, 0664)  no truncation before we hold it
 *   flock(LOCK_EX|LOCK_NB)                 polled, so the event loop never blocks
 *   fstat(fd) vs lstat(path)               the file we locked must still be the one at the path
 *   release: flock(LOCK_UN) + close        never unlink: others may hold a fd on it
 *
 * flock locks belong to the open file description, so two acquisitions in this
 * very process (two fds) exclude each other too, which is what we want: two
 * downloads of one blob in one process must serialise like two processes do.
 */
import { constants as fsConstants } from 'node:fs';
import { lstat, mkdir, open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';

import { HubcacheError, fromSystemError } from '../errors.js';
import { loadFlockBinding, type FlockBinding } from './flock.js';
import { describeHolders, lockHolders, type LockHolder } from './lockHolders.js';
import { errnoCode, openLockFile } from './openLockFile.js';
import { sleep } from '../sleep.js';

/** First and last poll interval when the caller gives none (filelock polls every 50 ms). */
const DEFAULT_POLL_MIN_MS = 50;
const DEFAULT_POLL_MAX_MS = 100;
/** After the first report, `onWait` is called again this often while still waiting. */
const ON_WAIT_REPEAT_MS = 10_000;
/**
 * Unlink races retried back to back before we fall back to sleeping a poll
 * interval, so a tool that keeps deleting lock files cannot make us spin.
 */
const MAX_IMMEDIATE_RACE_RETRIES = 10;

export interface LockWaitInfo {
  path: string;
  holders: LockHolder[];
  waitedMs: number;
}

export interface AcquireLockParams {
  /** The lock file, e.g. `<root>/.locks/models--org--name/<etag>.lock`. */
  path: string;
  /** Give up with E_LOCK_TIMEOUT after this long; default: wait forever. 0 = try once. */
  timeoutMs?: number;
  /** Fixed poll interval; default: 50 ms growing to 100 ms. */
  pollMs?: number;
  /** Aborting rejects the wait with `signal.reason`. */
  signal?: AbortSignal;
  /** Called when we first find the lock taken, then every 10 s while still waiting. */
  onWait?: (info: LockWaitInfo) => void;
}

export interface HeldLock {
  readonly path: string;
  /** Unlocks and closes; safe to call more than once. */
  release(): Promise<void>;
}

type Attempt = { kind: 'held'; handle: FileHandle } | { kind: 'busy' } | { kind: 'raced' };

export async function acquireLock(params: AcquireLockParams): Promise<HeldLock> {
  const { path, timeoutMs, pollMs, signal, onWait } = params;
  if (timeoutMs !== undefined && !(timeoutMs >= 0)) {
    throw new HubcacheError({ code: 'E_INTERNAL', message: `acquireLock: timeoutMs must be >= 0, got ${timeoutMs}` });
  }
  if (pollMs !== undefined && !(pollMs > 0)) {
    throw new HubcacheError({ code: 'E_INTERNAL', message: `acquireLock: pollMs must be > 0, got ${pollMs}` });
  }
  signal?.throwIfAborted();
  const binding = loadFlockBinding();

  try {
    await mkdir(dirname(path), { recursive: true });
  } catch (err) {
    throw fromSystemError({ err, path: dirname(path), action: 'create the lock directory' });
  }

  const started = performance.now();
  let interval = pollMs ?? DEFAULT_POLL_MIN_MS;
  let nextReportAt = 0;
  let racesInARow = 0;

  for (;;) {
    signal?.throwIfAborted();
    const attempt = await tryLockOnce({ path, binding });

    if (attempt.kind === 'held') {
      if (signal?.aborted) {
        // The caller gave up while we were acquiring; handing back a lock it
        // will never release would block everyone else until we exit.
        await unlockAndClose({ handle: attempt.handle, binding });
        signal.throwIfAborted();
      }
      return makeHeldLock({ path, handle: attempt.handle, binding });
    }

    if (attempt.kind === 'raced' && racesInARow < MAX_IMMEDIATE_RACE_RETRIES) {
      // Someone unlinked, moved or replaced the file between our open and flock: the
      // lock we got protects nothing, but the new file is likely free, so go
      // again at once instead of sleeping.
      racesInARow += 1;
      continue;
    }
    racesInARow = 0;

    const waitedMs = performance.now() - started;
    if (timeoutMs !== undefined && waitedMs >= timeoutMs) {
      const holders = await lockHolders({ path });
      throw new HubcacheError({
        code: 'E_LOCK_TIMEOUT',
        message: `Timed out after ${Math.round(waitedMs)} ms waiting for the lock ${path}${describeHolders(holders)}`,
        hint: 'Another download or cleanup of the same file is running; wait for it to finish or stop it. If no process holds the lock, run again.',
        data: { path, holders, waitedMs: Math.round(waitedMs) },
      });
    }
    if (onWait && waitedMs >= nextReportAt) {
      nextReportAt = waitedMs + ON_WAIT_REPEAT_MS;
      onWait({ path, holders: await lockHolders({ path }), waitedMs: Math.round(waitedMs) });
    }

    const remaining = timeoutMs === undefined ? Infinity : timeoutMs - (performance.now() - started);
    // Sleep at most until the deadline so a timeout fires on time, but always
    // make one more attempt at the deadline before giving up.
    await sleep({ ms: Math.max(0, Math.min(interval, remaining)), signal });
    if (pollMs === undefined) interval = Math.min(DEFAULT_POLL_MAX_MS, Math.round(interval * 1.25));
  }
}

/**
 * One attempt, never waiting: the held lock, or undefined when another holder
 * has it. For cleanups, which skip what is in use instead of queueing behind a
 * download. Creates the lock file like `acquireLock` does (an exclusion needs
 * a file both sides lock; it is never unlinked).
 */
export async function tryLock(params: { path: string }): Promise<HeldLock | undefined> {
  const { path } = params;
  const binding = loadFlockBinding();
  try {
    await mkdir(dirname(path), { recursive: true });
  } catch (err) {
    throw fromSystemError({ err, path: dirname(path), action: 'create the lock directory' });
  }
  for (let races = 0; ; races++) {
    const attempt = await tryLockOnce({ path, binding });
    if (attempt.kind === 'held') return makeHeldLock({ path, handle: attempt.handle, binding });
    // A race (the file replaced under us, EINTR) says nothing about a holder: try again, a few times.
    if (attempt.kind === 'busy' || races >= MAX_IMMEDIATE_RACE_RETRIES) return undefined;
  }
}

export async function withLock<T>(params: AcquireLockParams & { fn: () => Promise<T> }): Promise<T> {
  const { fn, ...acquire } = params;
  const lock = await acquireLock(acquire);
  let failed = false;
  try {
    return await fn();
  } catch (err) {
    failed = true;
    throw err;
  } finally {
    try {
      await lock.release();
    } catch (releaseErr) {
      // fn's own error says more about what went wrong than a failed close.
      if (!failed) throw releaseErr;
    }
  }
}

/**
 * True when some process (this one included, on another fd) holds the lock.
 * For cleanup code deciding whether a partial download is still being written.
 * Never creates the file: cleanup must not leave lock files behind, and a
 * read-only open keeps this working on caches we may not write.
 */
export async function isLockHeld(params: { path: string }): Promise<boolean> {
  const { path } = params;
  const binding = loadFlockBinding();
  let handle: FileHandle;
  try {
    handle = await open(path, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return false;
    throw fromSystemError({ err, path, action: 'open the lock file' });
  }
  try {
    for (;;) {
      try {
        binding.flock(handle.fd, binding.LOCK_EX | binding.LOCK_NB);
      } catch (err) {
        const code = errnoCode(err);
        if (code === 'EINTR') continue;
        if (isWouldBlock(code)) return true;
        throw withPath(err, path);
      }
      // We got it, so nobody else had it; let go at once so we never hold up a writer.
      binding.flock(handle.fd, binding.LOCK_UN);
      return false;
    }
  } finally {
    await handle.close();
  }
}

async function tryLockOnce(params: { path: string; binding: FlockBinding }): Promise<Attempt> {
  const { path, binding } = params;
  const handle = await openLockFile({ path });
  let keep = false;
  try {
    try {
      binding.flock(handle.fd, binding.LOCK_EX | binding.LOCK_NB);
    } catch (err) {
      const code = errnoCode(err);
      // A signal interrupted the call: nothing is known, so it counts as a
      // (retried immediately) race rather than as someone holding the lock.
      if (code === 'EINTR') return { kind: 'raced' };
      if (isWouldBlock(code)) return { kind: 'busy' };
      throw withPath(err, path);
    }

    const mine = await handle.stat({ bigint: true });
    // No links left: someone unlinked (or renamed over) the file after we opened it (e.g. the
    // previous holder's cleanup); a lock on an orphaned inode excludes no one
    // who opens the path now.
    if (mine.nlink === 0n) return { kind: 'raced' };
    let current;
    try {
      current = await lstat(path, { bigint: true });
    } catch (err) {
      // Unlinked or moved away between our flock and lstat: same race, go again.
      if (errnoCode(err) === 'ENOENT') return { kind: 'raced' };
      throw fromSystemError({ err, path, action: 'check the lock file' });
    }
    // The path was replaced (rename over it, or unlink + recreate): others
    // now lock the new inode, so ours means nothing.
    if (current.ino !== mine.ino || current.dev !== mine.dev) return { kind: 'raced' };

    keep = true;
    return { kind: 'held', handle };
  } finally {
    // Closing drops our flock too, so every path that does not hand the
    // handle to the caller also releases whatever we took.
    if (!keep) await handle.close();
  }
}

function makeHeldLock(params: { path: string; handle: FileHandle; binding: FlockBinding }): HeldLock {
  const { path, handle, binding } = params;
  let released: Promise<void> | undefined;
  return {
    path,
    release() {
      released ??= unlockAndClose({ handle, binding });
      return released;
    },
  };
}

async function unlockAndClose(params: { handle: FileHandle; binding: FlockBinding }): Promise<void> {
  const { handle, binding } = params;
  try {
    // Unlock explicitly rather than relying on close: should the fd ever be
    // duplicated into a child process, close alone would leave the lock held.
    binding.flock(handle.fd, binding.LOCK_UN);
  } finally {
    await handle.close();
  }
}

function isWouldBlock(code: string | undefined): boolean {
  return code === 'EAGAIN' || code === 'EWOULDBLOCK';
}

function withPath(err: unknown, path: string): unknown {
  if (err instanceof Error && !('path' in err)) Object.assign(err, { path });
  return err;
}
