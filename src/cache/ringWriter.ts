/**
 * Writes a single-stream download to its partial file and hashes it on the
 * way. Received bytes are staged in slots of a SharedArrayBuffer; each filled
 * slot goes to two worker threads at once, one that writes it at its offset
 * and one that feeds it to the hash, and is reused only after both are done.
 * Nothing is copied in JavaScript and nothing is read back from disk.
 *
 * Why dedicated threads: with the writes on libuv's pool (a different pool
 * thread for each write) a GiB took 3.7-4.7 s here, and with one worker that
 * hashed then wrote, 1.3 s in some runs and 4.5-5.7 s in others. A writer
 * thread and a hasher thread took 1.4-1.9 s in every run (2 cores, the raw
 * socket reader filling the slots, loopback from nginx; curl took 1.8-3.0 s).
 *
 * The bytes already on disk when resuming (the prefix) are hashed from the
 * file first; the writer only ever writes after it. A ring can be pointed at
 * another file (reopen), so a restore of many blobs starts its threads once.
 */
import { Worker } from 'node:worker_threads';
import type { HashAlgorithm } from './etag.js';

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

// One source for both roles. Each answers every message, in order.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const crypto = require('node:crypto');
const { role, sab, slotBytes } = workerData;
const WRITE_PIECE = 65536;
let hash;
let failure;
let fd;
const failWith = (err) => { failure = { message: String(err && err.message || err), code: err && err.code }; };
// Points this thread at a file: at start, and again for each file when the ring is reused (reopen).
function target({ path, prefix, algorithm, size }) {
  failure = undefined;
  hash = undefined;
  try {
    if (fd !== undefined) {
      const previous = fd;
      fd = undefined;
      fs.closeSync(previous);
    }
    if (role === 'write') {
      fd = fs.openSync(path, 'r+');
    } else if (algorithm) {
      hash = crypto.createHash(algorithm === 'sha256' ? 'sha256' : 'sha1');
      if (algorithm !== 'sha256') hash.update('blob ' + size + '\\0');
      if (prefix > 0) {
        const prefixFd = fs.openSync(path, 'r');
        try {
          const buffer = Buffer.allocUnsafe(65536);
          let done = 0;
          while (done < prefix) {
            const n = fs.readSync(prefixFd, buffer, 0, Math.min(buffer.length, prefix - done), done);
            if (n <= 0) throw new Error('partial file shorter than its recorded progress');
            hash.update(buffer.subarray(0, n));
            done += n;
          }
        } finally {
          fs.closeSync(prefixFd);
        }
      }
    }
  } catch (err) {
    failWith(err);
  }
}
target(workerData);
const view = Buffer.from(sab);
parentPort.on('message', (msg) => {
  if (msg.target) {
    target(msg.target);
    parentPort.postMessage(failure ? { id: msg.id, error: failure } : { id: msg.id });
    return;
  }
  if (msg.finish) {
    parentPort.postMessage(failure ? { id: msg.id, error: failure } : { id: msg.id, digest: hash.digest('hex') });
    return;
  }
  // After a failure nothing more is done: the caller is told and gives up this attempt.
  if (!failure) {
    try {
      const bytes = view.subarray(msg.index * slotBytes, msg.index * slotBytes + msg.length);
      if (role === 'write') {
        // 64 KiB per write, not the whole slot: on this VM a 1 GiB file written 1 MiB at a time took
        // 2.9-3.6 s when the page cache had to take memory the host had reclaimed, 2.1-2.6 s in 64 KiB
        // writes, and the same 1.7-1.9 s either way otherwise (bigger writes get bigger page-cache folios).
        let written = 0;
        while (written < msg.length) written += fs.writeSync(fd, bytes, written, Math.min(WRITE_PIECE, msg.length - written), msg.position + written);
      } else {
        hash.update(bytes);
      }
    } catch (err) {
      failWith(err);
    }
  }
  parentPort.postMessage(failure ? { id: msg.id, error: failure } : { id: msg.id });
});
`;

interface Reply {
  id: number;
  digest?: string;
  error?: { message: string; code?: string };
}

/** A worker thread with request/answer messaging; answers come in request order. */
function startWorker(workerData: object): { request(message: object): Promise<Reply>; terminate(): Promise<number> } {
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData });
  const pending = new Map<number, { resolve: (reply: Reply) => void; reject: (err: Error) => void }>();
  let nextId = 0;
  let dead: Error | undefined;
  const dieWith = (err: Error): void => {
    dead ??= err;
    for (const { reject } of pending.values()) reject(dead);
    pending.clear();
  };
  worker.on('message', (reply: Reply) => {
    const waiter = pending.get(reply.id);
    pending.delete(reply.id);
    waiter?.resolve(reply);
  });
  worker.on('error', dieWith);
  worker.on('exit', () => dieWith(new Error('the download writer stopped')));
  return {
    request(message) {
      if (dead) return Promise.reject(dead);
      const id = nextId++;
      return new Promise<Reply>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        worker.postMessage({ ...message, id });
      });
    },
    terminate: () => worker.terminate(),
  };
}

function asError(error: { message: string; code?: string }): Error {
  return Object.assign(new Error(error.message), error.code ? { code: error.code } : {});
}

export function createRingWriter(params: RingTarget): RingWriter {
  const sab = new SharedArrayBuffer(SLOT_BYTES * SLOTS);
  const slots: RingSlot[] = Array.from({ length: SLOTS }, (_, index) => ({ index, buffer: Buffer.from(sab, index * SLOT_BYTES, SLOT_BYTES) }));
  const free: number[] = slots.map((s) => s.index);
  const waiting: Array<(slot: RingSlot) => void> = [];
  const common = { sab, slotBytes: SLOT_BYTES, path: params.path, prefix: params.prefixBytes, algorithm: params.algorithm, size: params.size };
  const writer = startWorker({ ...common, role: 'write' });
  const hasher = params.algorithm ? startWorker({ ...common, role: 'hash' }) : undefined;
  const giveBack = (slot: RingSlot): void => {
    const next = waiting.shift();
    if (next) next(slot);
    else free.push(slot.index);
  };
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
      const message = { index: slot.index, length, position };
      // Both read the slot; it is free again only when both are done with it, whatever happened.
      const outcomes = await Promise.allSettled([writer.request(message), hasher?.request(message)]);
      giveBack(slot);
      for (const outcome of outcomes) {
        if (outcome.status === 'rejected') throw outcome.reason;
        if (outcome.value?.error) throw asError(outcome.value.error);
      }
    },
    giveBack,
    async finish() {
      if (!hasher) return undefined;
      const reply = await hasher.request({ finish: true });
      if (reply.error) throw asError(reply.error);
      return reply.digest;
    },
    async reopen(next) {
      if ((next.algorithm === undefined) !== (hasher === undefined)) throw new Error('createRingWriter: reopen must hash (or not) like the ring was created to');
      const message = { target: { path: next.path, prefix: next.prefixBytes, algorithm: next.algorithm, size: next.size } };
      const replies = await Promise.all([writer.request(message), hasher?.request(message)]);
      for (const reply of replies) if (reply?.error) throw asError(reply.error);
    },
    async close() {
      await Promise.all([writer.terminate(), hasher?.terminate()]);
    },
  };
}
