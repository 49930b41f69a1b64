/**
 * Hashes a single-stream download from memory as it arrives: received bytes
 * are staged in slots of a SharedArrayBuffer that the disk write and a hash
 * worker both read, so nothing is copied twice and nothing is read back from
 * disk. The bytes already on disk when resuming (the prefix) are hashed from
 * the file first. A slot is reused only when both its write and its hash are done.
 */
import { Worker } from 'node:worker_threads';
import type { HashAlgorithm } from './etag.js';

export interface RingSlot {
  index: number;
  buffer: Buffer;
}

export interface RingHasher {
  /** A free slot to fill (waits while all slots are busy: that is the backpressure). */
  acquire(): Promise<RingSlot>;
  /** `length` bytes of `slot` are the next bytes of the file; `written` settles when they are on disk. */
  submit(slot: RingSlot, length: number, written: Promise<unknown>): void;
  /** Gives back a slot that was acquired but not submitted. */
  giveBack(slot: RingSlot): void;
  finish(): Promise<string>;
  abort(): void;
}

const SLOT_BYTES = 1024 * 1024;
const SLOTS = 8;

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const crypto = require('node:crypto');
const { sab, slotBytes, path, prefix, algorithm, size } = workerData;
const hash = crypto.createHash(algorithm === 'sha256' ? 'sha256' : 'sha1');
if (algorithm !== 'sha256') hash.update('blob ' + size + '\\0');
try {
  if (prefix > 0) {
    const fd = fs.openSync(path, 'r');
    const buffer = Buffer.allocUnsafe(65536);
    let done = 0;
    while (done < prefix) {
      const n = fs.readSync(fd, buffer, 0, Math.min(buffer.length, prefix - done), done);
      if (n <= 0) throw new Error('partial file shorter than its recorded progress');
      hash.update(buffer.subarray(0, n));
      done += n;
    }
    fs.closeSync(fd);
  }
} catch (err) {
  parentPort.postMessage({ error: String(err && err.message || err) });
}
const view = Buffer.from(sab);
parentPort.on('message', (msg) => {
  if (msg.finish) {
    parentPort.postMessage({ digest: hash.digest('hex') });
    return;
  }
  hash.update(view.subarray(msg.index * slotBytes, msg.index * slotBytes + msg.length));
  parentPort.postMessage({ freed: msg.index });
});
`;

export function createRingHasher(params: { path: string; prefixBytes: number; algorithm: HashAlgorithm; size: number }): RingHasher {
  const sab = new SharedArrayBuffer(SLOT_BYTES * SLOTS);
  const slots: RingSlot[] = Array.from({ length: SLOTS }, (_, index) => ({ index, buffer: Buffer.from(sab, index * SLOT_BYTES, SLOT_BYTES) }));
  // Per slot: how many of (write, hash) are still using it.
  const busy = new Array<number>(SLOTS).fill(0);
  const free: number[] = slots.map((s) => s.index);
  const waiting: Array<(slot: RingSlot) => void> = [];
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { sab, slotBytes: SLOT_BYTES, path: params.path, prefix: params.prefixBytes, algorithm: params.algorithm, size: params.size },
  });
  let failure: Error | undefined;
  let onDigest: ((digest: string) => void) | undefined;
  let onFailure: ((err: Error) => void) | undefined;
  const fail = (err: Error): void => {
    failure ??= err;
    onFailure?.(err);
  };
  const release = (index: number): void => {
    busy[index] = (busy[index] as number) - 1;
    if (busy[index] !== 0) return;
    const next = waiting.shift();
    if (next) next(slots[index] as RingSlot);
    else free.push(index);
  };
  worker.on('message', (msg: { freed?: number; digest?: string; error?: string }) => {
    if (msg.freed !== undefined) release(msg.freed);
    else if (msg.digest !== undefined) onDigest?.(msg.digest);
    else if (msg.error !== undefined) fail(new Error(`hashing failed: ${msg.error}`));
  });
  worker.on('error', fail);
  return {
    acquire() {
      const index = free.shift();
      if (index !== undefined) return Promise.resolve(slots[index] as RingSlot);
      return new Promise((resolve) => waiting.push(resolve));
    },
    submit(slot, length, written) {
      busy[slot.index] = 2;
      worker.postMessage({ index: slot.index, length });
      // A failed write still frees the slot; the failure itself reaches the caller through `written`.
      written.then(
        () => release(slot.index),
        () => release(slot.index),
      );
    },
    giveBack(slot) {
      const next = waiting.shift();
      if (next) next(slot);
      else free.push(slot.index);
    },
    finish() {
      return new Promise<string>((resolve, reject) => {
        if (failure) {
          reject(failure);
          return;
        }
        onFailure = reject;
        onDigest = (digest) => {
          resolve(digest);
          void worker.terminate();
        };
        worker.postMessage({ finish: true });
      });
    },
    abort() {
      void worker.terminate();
    },
  };
}
