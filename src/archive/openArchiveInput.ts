/**
 * Where a restore reads from: a file or a stream (stdin), gzip-compressed or
 * not (told by its first two bytes, 1f 8b, whatever the file is called). A
 * plain file is read synchronously: in 256 KiB chunks for headers and small
 * files, and straight into the caller's buffer for a big blob's bytes
 * (ByteReader.readInto), which the ring writer's threads then write and hash.
 * A read from the page cache takes well under a millisecond; through libuv's
 * pool each cost a thread hand-off both ways (strace: ~60k futex calls per GiB).
 */
import { readSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { HubcacheError, fromSystemError } from '../errors.js';
import { ByteReader, TruncatedStreamError } from './byteReader.js';

/** Small enough to stay in the CPU cache between the read, the hash and the write (1 MiB was slower). */
export const ARCHIVE_CHUNK_BYTES = 256 * 1024;

export interface ArchiveInput {
  reader: ByteReader;
  gzip: boolean;
  /** Size of the (uncompressed) archive when it is known up front: a plain file. */
  size: number | undefined;
  close(): Promise<void>;
}

export interface OpenArchiveInputParams {
  /** A file path, or a stream such as process.stdin. */
  source: string | NodeJS.ReadableStream;
}

export async function openArchiveInput(params: OpenArchiveInputParams): Promise<ArchiveInput> {
  if (typeof params.source !== 'string') return fromStream(params.source as Readable);
  let handle: FileHandle;
  try {
    handle = await open(params.source, 'r');
  } catch (err) {
    const typed = fromSystemError({ err, path: params.source, action: 'open the archive' });
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new HubcacheError({ code: 'E_USAGE', message: `No such archive: ${params.source}`, data: { path: params.source } });
    }
    throw typed;
  }
  const stats = await handle.stat();
  if (!stats.isFile()) {
    // A FIFO or a device is read as a stream; anything else is not an archive.
    if (!stats.isFIFO() && !stats.isCharacterDevice()) {
      await handle.close();
      throw new HubcacheError({ code: 'E_USAGE', message: `Not an archive file: ${params.source}`, data: { path: params.source } });
    }
    return fromStream(handle.createReadStream({ highWaterMark: ARCHIVE_CHUNK_BYTES }));
  }
  const magic = Buffer.alloc(2);
  const { bytesRead } = await handle.read(magic, 0, 2, 0);
  if (bytesRead === 2 && magic[0] === 0x1f && magic[1] === 0x8b) {
    const stream = handle.createReadStream({ highWaterMark: ARCHIVE_CHUNK_BYTES });
    return { reader: new ByteReader(gunzipChunks(stream)), gzip: true, size: undefined, close: async () => void stream.destroy() };
  }
  return { reader: new ByteReader(new FileChunks(handle.fd, stats.size)), gzip: false, size: stats.size, close: () => handle.close() };
}

/**
 * A plain archive file, front to back. Two buffers, used in turn: reusing them (instead of a
 * fresh buffer per chunk) saves the page faults of new memory, which cost more kernel time
 * than the copy itself. Safe because ByteReader asks for the next chunk only once every view
 * of the previous one is done with.
 */
class FileChunks implements AsyncIterator<Buffer> {
  private readonly buffers = [Buffer.allocUnsafeSlow(ARCHIVE_CHUNK_BYTES), Buffer.allocUnsafeSlow(ARCHIVE_CHUNK_BYTES)];
  private turn = 0;
  private position = 0;

  /** `size`: the file's size when opened (an archive is not written while we read it; a read past it still ends at the real end). */
  constructor(
    private readonly fd: number,
    private readonly size: number,
  ) {}

  async next(): Promise<IteratorResult<Buffer>> {
    this.turn ^= 1;
    const n = this.readInto(this.buffers[this.turn] as Buffer);
    return n === 0 ? { done: true, value: undefined } : { done: false, value: (this.buffers[this.turn] as Buffer).subarray(0, n) };
  }

  /** Moves past `n` bytes without reading them; fewer at the end of the file. */
  skip(n: number): number {
    const skipped = Math.max(0, Math.min(n, this.size - this.position));
    this.position += skipped;
    return skipped;
  }

  /** The next bytes of the file straight into `target`; 0 at its end. */
  readInto(target: Buffer): number {
    const n = readSync(this.fd, target, 0, target.length, this.position);
    this.position += n;
    return n;
  }
}

async function fromStream(stream: Readable): Promise<ArchiveInput> {
  const iterator = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const first = await iterator.next();
  const head = first.done ? Buffer.alloc(0) : toBuffer(first.value);
  const rest: AsyncIterable<Buffer> = { [Symbol.asyncIterator]: () => iterator };
  async function* raw(): AsyncGenerator<Buffer> {
    if (head.length > 0) yield head;
    for await (const chunk of rest) yield toBuffer(chunk);
  }
  const close = async (): Promise<void> => void stream.destroy();
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) {
    return { reader: new ByteReader(gunzipChunks(Readable.from(raw()))), gzip: true, size: undefined, close };
  }
  return { reader: new ByteReader(raw()), gzip: false, size: undefined, close };
}

/** Decompressed chunks; a gzip stream cut short is a TruncatedStreamError like a short tar. */
async function* gunzipChunks(compressed: Readable): AsyncGenerator<Buffer> {
  const gunzip = createGunzip({ chunkSize: 256 * 1024 });
  compressed.on('error', (err) => gunzip.destroy(err));
  compressed.pipe(gunzip);
  let total = 0;
  try {
    for await (const chunk of gunzip) {
      total += (chunk as Buffer).length;
      yield chunk as Buffer;
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'Z_BUF_ERROR' || /unexpected end of file/i.test((err as Error).message)) throw new TruncatedStreamError(total);
    throw new HubcacheError({ code: 'E_ARCHIVE', message: `The archive's gzip stream is damaged: ${(err as Error).message}`, data: { offset: total }, cause: err });
  }
}

function toBuffer(chunk: unknown): Buffer {
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
}
