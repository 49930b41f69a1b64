/**
 * Writes a single-stream download to its partial file and hashes it on the
 * way. Received bytes are staged in slots of one block of native memory; each
 * filled slot goes to two threads at once (native/ring.c), one that writes it
 * at its offset and one that feeds it to the hash, and is reused only after
 * both are done. Nothing is copied in JavaScript and nothing is read back
 * from disk.
 *
 * Why dedicated threads: with the writes on libuv's pool (a different pool
 * thread for each write) a GiB took 3.7-4.7 s here, and with one thread that
 * hashed then wrote, 1.3 s in some runs and 4.5-5.7 s in others. A writer
 * thread and a hasher thread took 1.4-1.9 s in every run (2 cores, the raw
 * socket reader filling the slots, loopback from nginx; curl took 1.8-3.0 s).
 * They are native threads, not worker_threads: two Workers cost ~160 ms of CPU
 * and as much wall time to boot at the start of every download, and two
 * postMessage round trips per slot (see ARCHITECTURE.md).
 *
 * The bytes already on disk when resuming (the prefix) are hashed from the
 * file first; the writer only ever writes after it. A ring can be pointed at
 * another file (reopen), so a restore of many blobs starts its threads once.
 */
import { getSystemErrorName } from 'node:util';
import { HubcacheError } from '../errors.js';
import type { HashAlgorithm } from './etag.js';
import { loadFlockBinding, type RingNative } from './flock.js';

export interface RingSlot {
  index: number;
  buffer: Buffer;
}

export interface RingWriter {
  /** A free slot to fill (waits while all slots are busy: that is the backpressure). */
  acquire(): Promise<RingSlot>;
  /** A free slot now, or undefined. */
  tryAcquire(): RingSlot | undefined;
  /** The first `length` bytes of `slot` belong at `position`; settles once they are hashed and written. */
  submit(slot: RingSlot, length: number, position: number): Promise<void>;
  /** Gives back a slot that was acquired but not submitted. */
  giveBack(slot: RingSlot): void;
  /** The digest of the prefix and every submitted slot, in submission order. */
  finish(): Promise<string | undefined>;
  /**
   * Points the ring at another file, hashed the same way or not at all as the first one (with or
   * without `algorithm`), so one ring and its two threads serve file after file (a restore writes
   * hundreds; each thread costs tens of milliseconds of CPU to start). Every submitted slot must
   * have settled and `finish` been called for the previous file; a failure of the previous file is forgotten.
   */
  reopen(params: RingTarget): Promise<void>;
  /** Stops the worker; once this settles, no write of this ring can land in the file any more. */
  close(): Promise<void>;
}

/** The file a ring writes (and hashes): an existing file, written from `prefixBytes` on. */
export interface RingTarget {
  path: string;
  prefixBytes: number;
  algorithm: HashAlgorithm | undefined;
  size: number;
}

const SLOT_BYTES = 1024 * 1024;
const SLOTS = 8;
/** native/ring.c's names for the hashes. */
const ALGORITHM_CODE: Record<HashAlgorithm, number> = { sha256: 1, 'git-sha1': 2 };

interface Outcome {
  error?: Error;
  digest?: string;
}

function loadRingNative(): RingNative {
  const binding = loadFlockBinding();
  const { ringCreate, ringTarget, ringSubmit, ringFinish, ringClose } = binding;
  if (!ringCreate || !ringTarget || !ringSubmit || !ringFinish || !ringClose) {
    throw new HubcacheError({
      code: 'E_INTERNAL',
      message: 'The native addon is older than this hubcache: it has no download ring (native/ring.c)',
      hint: 'Run `npm rebuild` in the hubcache package to rebuild build/Release/hubcache_flock.node.',
    });
  }
  return { ringCreate, ringTarget, ringSubmit, ringFinish, ringClose };
}

/** Shaped like Node's own fs errors ("ENOSPC: no space left on device, write", `code`, negative `errno`). */
function nativeError(errno: number, message: string): Error {
  if (errno <= 0) return new Error(message);
  const code = errnoName(errno);
  return Object.assign(new Error(`${code}: ${message}`), { code, errno: -errno, syscall: message.slice(message.lastIndexOf(', ') + 2) });
}

function errnoName(errno: number): string {
  try {
    return getSystemErrorName(-errno);
  } catch {
    return 'EIO';
  }
}

export function createRingWriter(params: RingTarget): RingWriter {
  const native = loadRingNative();
  const pending = new Map<number, (outcome: Outcome) => void>();
  let nextId = 0;
  let closed: Error | undefined;
  const [handle, memory] = native.ringCreate(SLOTS, SLOT_BYTES, (id, errno, message, digest) => {
    const settle = pending.get(id);
    pending.delete(id);
    settle?.({ ...(errno !== undefined ? { error: nativeError(errno, message ?? 'failed') } : {}), ...(digest !== undefined ? { digest } : {}) });
  });
  /** Queues one job; resolves with its outcome (never rejects). */
  const job = (give: (id: number) => void): Promise<Outcome> => {
    if (closed) return Promise.resolve({ error: closed });
    const id = nextId++;
    return new Promise<Outcome>((resolve) => {
      pending.set(id, resolve);
      give(id);
    });
  };
  const hashes = params.algorithm !== undefined;
  const target = (next: RingTarget): Promise<Outcome> =>
    job((id) => native.ringTarget(handle, id, next.path, next.prefixBytes, next.algorithm ? ALGORITHM_CODE[next.algorithm] : 0, next.size));
  // Queued first: every later job runs after it on both threads. Its failure (an unopenable file, a
  // prefix shorter than recorded) comes back with the first slot, as the threads skip work after it.
  let opened = target(params);
  const slots: RingSlot[] = Array.from({ length: SLOTS }, (_, index) => ({ index, buffer: Buffer.from(memory, index * SLOT_BYTES, SLOT_BYTES) }));
  const free: number[] = slots.map((s) => s.index);
  const waiting: Array<(slot: RingSlot) => void> = [];
  const giveBack = (slot: RingSlot): void => {
    const next = waiting.shift();
    if (next) next(slot);
    else free.push(slot.index);
  };
  const failure = async (): Promise<Error | undefined> => (await opened).error;
  return {
    acquire() {
      const index = free.shift();
      if (index !== undefined) return Promise.resolve(slots[index] as RingSlot);
      return new Promise((resolve) => waiting.push(resolve));
    },
    tryAcquire() {
      const index = free.shift();
      return index === undefined ? undefined : (slots[index] as RingSlot);
    },
    async submit(slot, length, position) {
      // Both threads read the slot; it is free again only when both are done with it, whatever happened.
      const outcome = await job((id) => native.ringSubmit(handle, id, slot.index, length, position));
      giveBack(slot);
      const error = (await failure()) ?? outcome.error;
      if (error) throw error;
    },
    giveBack,
    async finish() {
      if (!hashes) return undefined;
      const outcome = await job((id) => native.ringFinish(handle, id));
      const error = (await failure()) ?? outcome.error;
      if (error) throw error;
      return outcome.digest;
    },
    async reopen(next) {
      if ((next.algorithm === undefined) === hashes) throw new Error('createRingWriter: reopen must hash (or not) like the ring was created to');
      opened = target(next);
      const error = (await opened).error;
      if (error) throw error;
    },
    async close() {
      if (closed) return;
      const stopped = job((id) => native.ringClose(handle, id));
      closed = new Error('the download writer stopped');
      await stopped;
      // Jobs queued behind the stop never run: their callers learn it now.
      for (const settle of pending.values()) settle({ error: closed });
      pending.clear();
    },
  };
}
