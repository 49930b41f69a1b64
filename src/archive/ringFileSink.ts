/**
 * The archive file's writer for a plain (uncompressed) backup to a file: the
 * tar stream is staged in the slots of the download path's ring writer and a
 * worker thread writes each full slot at its offset, while this thread reads
 * the next blob bytes straight into the next slot (no copy in JavaScript for
 * blob content). Reading and writing run on two cores at once, and each
 * 1 MiB slot costs one read and one message instead of a round trip through
 * libuv's pool per 256 KiB read and per write (a strace of the pool version
 * showed ~45k futex waits per GiB and the main thread idle half the time).
 *
 * Reads are synchronous: a blob is read at page-cache speed in ~1 ms per slot
 * (a few ms from a cold disk), and the loop yields whenever all slots are in
 * the writer's hands, so timers (progress) still run.
 */
import { readSync } from 'node:fs';
import { createRingWriter, type RingSlot } from '../cache/ringWriter.js';
import { fromSystemError } from '../errors.js';
import type { TarSink } from './tarWriter.js';

/**
 * `path`: the archive's temp file, already created; `shownPath`: the name errors give (the archive asked for).
 * A failed write is reported (as E_DISK_FULL and the like) at the next call; a failed read of a
 * source file is thrown as it is, for the caller to name the file.
 */
export function ringFileSink(params: { path: string; shownPath: string }): TarSink {
  // No hash: a backup only moves bytes (a blob's name is its hash, and restore checks it).
  const ring = createRingWriter({ path: params.path, prefixBytes: 0, algorithm: undefined, size: 0 });
  let slot: RingSlot | undefined;
  let filled = 0;
  let position = 0;
  let failure: unknown;
  const pending = new Set<Promise<void>>();

  const submit = (): void => {
    const full = slot;
    if (!full) return;
    slot = undefined;
    if (filled === 0) {
      ring.giveBack(full);
      return;
    }
    const written = ring.submit(full, filled, position);
    position += filled;
    filled = 0;
    const tracked: Promise<void> = written
      .catch((err: unknown) => {
        failure ??= fromSystemError({ err, path: params.shownPath, action: 'write the archive' });
      })
      .finally(() => pending.delete(tracked));
    pending.add(tracked);
  };
  /** The free part of the current slot (waits for one while the writer holds them all). */
  const room = async (): Promise<Buffer> => {
    if (failure) throw failure;
    if (!slot) {
      slot = await ring.acquire();
      // A write failed while we waited: stop before filling more.
      if (failure) throw failure;
    }
    return slot.buffer.subarray(filled);
  };
  const afterFill = (n: number): void => {
    filled += n;
    if (slot && filled === slot.buffer.length) submit();
  };

  return {
    async write(chunk) {
      let offset = 0;
      while (offset < chunk.length) {
        const space = await room();
        const n = chunk.copy(space, 0, offset);
        offset += n;
        afterFill(n);
      }
    },
    async copyFile({ source, size, onBytes }) {
      let done = 0;
      let fromFile = 0;
      while (done < size) {
        const space = await room();
        const want = Math.min(space.length, size - done);
        let n = readSync(source.fd, space, 0, want, done);
        if (n === 0) {
          // Shrunk under us (damage, never a normal writer): keep the promised length with zeros; restore's hash refuses it.
          space.fill(0, 0, want);
          n = want;
        } else fromFile += n;
        done += n;
        afterFill(n);
        onBytes(n);
      }
      return fromFile;
    },
    async end() {
      submit();
      await Promise.all(pending);
      await ring.close();
      if (failure) throw failure;
    },
    async abort() {
      if (slot) ring.giveBack(slot);
      slot = undefined;
      await Promise.allSettled(pending);
      await ring.close();
    },
  };
}
