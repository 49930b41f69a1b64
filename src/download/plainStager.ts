/**
 * Staging for transfers the ring does not take (small files, several
 * streams): two plain 1 MiB buffers per stream, written from the main thread.
 */
import type { FileHandle } from 'node:fs/promises';
import type { RingSlot } from '../cache/ringWriter.js';

export const WRITE_BUFFER = 1024 * 1024;

/** Where received bytes are staged and who writes them: the ring's worker, or two plain buffers written from here. */
export interface Stager {
  acquire(): Promise<RingSlot>;
  tryAcquire(): RingSlot | undefined;
  /** Settles once the first `length` bytes of `slot` are in the file at `position`; then the slot is free again. */
  submit(slot: RingSlot, length: number, position: number): Promise<void>;
  giveBack(slot: RingSlot): void;
}

/** `onSubmit` sees each slot's bytes when it is handed to the write, which is in file order for one stream. */
export function plainStager(params: { handle: FileHandle; onSubmit?: ((bytes: Buffer) => void) | undefined }): Stager {
  const slots: RingSlot[] = [0, 1].map((index) => ({ index, buffer: Buffer.allocUnsafe(WRITE_BUFFER) }));
  const free = [...slots];
  const waiting: Array<(slot: RingSlot) => void> = [];
  // One write at a time: concurrent writes to one file contend on its inode lock.
  let writes: Promise<void> = Promise.resolve();
  const giveBack = (slot: RingSlot): void => {
    const next = waiting.shift();
    if (next) next(slot);
    else free.push(slot);
  };
  return {
    acquire: () => {
      const slot = free.shift();
      return slot ? Promise.resolve(slot) : new Promise((resolve) => waiting.push(resolve));
    },
    tryAcquire: () => free.shift(),
    submit: (slot, length, position) => {
      params.onSubmit?.(slot.buffer.subarray(0, length));
      const written = writes.then(async () => {
        try {
          let done = 0;
          while (done < length) {
            const { bytesWritten } = await params.handle.write(slot.buffer, done, length - done, position + done);
            done += bytesWritten;
          }
        } finally {
          giveBack(slot);
        }
      });
      writes = written.catch(() => undefined);
      return written;
    },
    giveBack,
  };
}
