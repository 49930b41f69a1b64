/**
 * The one way hubcache reads a small file whose name it found on disk or was
 * given (a ref, a manifest, a cached file listing): opened non-blocking, so a
 * FIFO cannot hang the process (a blocked open ignores SIGTERM); refused
 * unless it is a regular file; and never read past a cap, so a 1 GB file or
 * /dev/zero costs one fstat, not gigabytes.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';

export type BoundedRead =
  | { status: 'ok'; bytes: Buffer }
  | { status: 'absent' }
  | { status: 'folder' }
  | { status: 'not-regular' }
  | { status: 'too-large'; size: number };

/** Throws only the OS's errors other than "absent" (EACCES, EIO...). */
export function readBoundedFileSync(params: { path: string; maxBytes: number }): BoundedRead {
  let fd: number;
  try {
    fd = openSync(params.path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { status: 'absent' };
    throw err;
  }
  try {
    const stats = fstatSync(fd);
    if (stats.isDirectory()) return { status: 'folder' };
    if (!stats.isFile()) return { status: 'not-regular' };
    if (stats.size > params.maxBytes) return { status: 'too-large', size: stats.size };
    // One byte past the cap: a file that grew after the fstat is refused too.
    const buffer = Buffer.alloc(params.maxBytes + 1);
    let length = 0;
    for (let n; length < buffer.length && (n = readSync(fd, buffer, length, buffer.length - length, null)) > 0; ) length += n;
    if (length > params.maxBytes) return { status: 'too-large', size: length };
    return { status: 'ok', bytes: buffer.subarray(0, length) };
  } finally {
    closeSync(fd);
  }
}

/** "is not a regular file" / "is larger than N bytes (M)": the end of a sentence naming the file. */
export function describeBoundedRead(read: Exclude<BoundedRead, { status: 'ok' | 'absent' }>, maxBytes: number): string {
  if (read.status === 'folder') return 'is a folder';
  if (read.status === 'not-regular') return 'is not a regular file (a pipe, device or socket)';
  return `is larger than ${maxBytes} bytes (${read.size})`;
}
