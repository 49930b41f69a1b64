/**
 * Writes a tar stream (pax-extended ustar) to a file or a stream, optionally
 * through gzip. Each write is awaited until the chunk is taken (backpressure),
 * so memory stays at the chunks in flight whatever the sizes. A plain file
 * goes through the ring writer's thread (ringFileSink); streams and gzip
 * through node streams. A file is written under a temp name
 * beside it and renamed at the end: a failed backup never leaves a
 * cut-short archive under the name asked for.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { open, rename, unlink, type FileHandle } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { fromSystemError } from '../errors.js';
import { ringFileSink } from './ringFileSink.js';
import { BLOCK_SIZE, encodeEntryHeader, paddingOf, RECORD_SIZE, type EncodeEntryParams } from './tarHeader.js';

/** Read size when a file is copied into a stream: the buffer stays in the CPU cache (1 MiB was slower). */
const STREAM_COPY_BYTES = 256 * 1024;

export interface TarWriterParams {
  /** A file path, or a stream (process.stdout). */
  target: string | Writable;
  gzip?: boolean;
}

/** Where the archive's bytes go, in order. */
export interface TarSink {
  /** Appends `chunk`; the caller may reuse it once the promise settles. */
  write(chunk: Buffer): Promise<void>;
  /**
   * Appends `size` bytes of `source` (from its start); a file found shorter is
   * padded with zeros to the promised size. Returns the bytes that came from the file.
   */
  copyFile(args: { source: FileHandle; size: number; onBytes: (n: number) => void }): Promise<number>;
  end(): Promise<void>;
  abort(): Promise<void>;
}

export class TarWriter {
  /** Archive bytes written so far (before compression). */
  bytesWritten = 0;

  private constructor(private readonly sink: TarSink) {}

  static async open(params: TarWriterParams): Promise<TarWriter> {
    return new TarWriter(await openSink(params));
  }

  /** Header (and pax header when needed) of one entry; for files, `writeContent` then follows with exactly `size` bytes. */
  async writeHeader(params: EncodeEntryParams): Promise<void> {
    await this.write(encodeEntryHeader(params));
  }

  /** A chunk of the current file's content; the caller may reuse it once the promise settles (and not before). */
  async writeContent(chunk: Buffer): Promise<void> {
    await this.write(chunk);
  }

  /**
   * A file's content, `size` bytes read from `source` (the size its header promised; a file that
   * shrank meanwhile is padded with zeros). Returns the bytes that came from the file.
   */
  async copyFile(args: { source: FileHandle; size: number; onBytes: (n: number) => void }): Promise<number> {
    this.bytesWritten += args.size;
    return this.sink.copyFile(args);
  }

  /** Zero padding after a file's `size` bytes. */
  async endContent(size: number): Promise<void> {
    const padding = paddingOf(size);
    if (padding > 0) await this.write(Buffer.alloc(padding));
  }

  /** A small file in one call (index, refs, CACHEDIR.TAG). */
  async writeFile(params: Omit<EncodeEntryParams, 'type' | 'size'> & { content: Buffer }): Promise<void> {
    await this.writeHeader({ ...params, type: 'file', size: params.content.length });
    await this.writeContent(params.content);
    await this.endContent(params.content.length);
  }

  /** Two zero blocks, padded to GNU tar's record size, then closes (and renames the file into place). */
  async finish(): Promise<void> {
    const end = 2 * BLOCK_SIZE;
    const total = this.bytesWritten + end;
    const pad = total % RECORD_SIZE === 0 ? 0 : RECORD_SIZE - (total % RECORD_SIZE);
    await this.write(Buffer.alloc(end + pad));
    await this.sink.end();
  }

  /** Drops what was written (the temp file), after a failure. */
  async abort(): Promise<void> {
    await this.sink.abort();
  }

  private async write(chunk: Buffer): Promise<void> {
    this.bytesWritten += chunk.length;
    await this.sink.write(chunk);
  }
}

async function openSink(params: TarWriterParams): Promise<TarSink> {
  if (typeof params.target !== 'string') {
    const out = params.target;
    if (!params.gzip) return streamSink(out, async () => undefined);
    const gzip = createGzip();
    gzip.pipe(out, { end: false });
    return streamSink(gzip, async () => {
      gzip.end();
      await once(gzip, 'end');
    });
  }
  const dest = params.target;
  const tmp = `${dest}.${randomBytes(4).toString('hex')}.partial`;
  let handle: FileHandle;
  try {
    handle = await open(tmp, 'wx', 0o644);
  } catch (err) {
    throw fromSystemError({ err, path: tmp, action: 'create the archive' });
  }
  const commit = async (): Promise<void> => {
    await handle.close();
    await rename(tmp, dest);
  };
  const abort = async (): Promise<void> => {
    await handle.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
  };
  if (params.gzip) {
    const gzip = createGzip();
    const file = handle.createWriteStream({ autoClose: false });
    gzip.pipe(file);
    const sink = streamSink(gzip, async () => {
      gzip.end();
      await once(file, 'finish');
      await commit();
    });
    return { ...sink, abort };
  }
  // The ring's worker opens the temp by name; our handle only created it.
  await handle.close();
  const sink = ringFileSink({ path: tmp, shownPath: dest });
  return {
    write: (chunk) => sink.write(chunk),
    copyFile: (args) => sink.copyFile(args),
    async end() {
      await sink.end();
      await rename(tmp, dest);
    },
    async abort() {
      await sink.abort().catch(() => undefined);
      await unlink(tmp).catch(() => undefined);
    },
  };
}

/**
 * Each write resolves when the stream has taken the chunk (its callback: written to the pipe,
 * or consumed by gzip), so the caller may reuse the buffer, and memory holds one chunk in flight.
 */
function streamSink(stream: Writable, end: () => Promise<void>): TarSink {
  let failure: Error | undefined;
  stream.on('error', (err) => (failure = err));
  const write = (chunk: Buffer): Promise<void> => {
    if (failure) return Promise.reject(failure);
    return new Promise<void>((resolve, reject) => {
      stream.write(chunk, (err) => (err ? reject(err) : resolve()));
    });
  };
  return {
    write,
    copyFile: (args) => copyThroughWrites({ ...args, write }),
    end: async () => {
      if (failure) throw failure;
      await end();
    },
    abort: async () => undefined,
  };
}

/**
 * A file into a stream: two buffers in turn, the next read filling one while the other is
 * written (the stream is done with a chunk when its write settles). Fresh memory per chunk
 * cost more in page faults than the copy.
 */
async function copyThroughWrites(args: { source: FileHandle; size: number; onBytes: (n: number) => void; write: (chunk: Buffer) => Promise<void> }): Promise<number> {
  const { source, size } = args;
  const buffers = [Buffer.allocUnsafeSlow(STREAM_COPY_BYTES), Buffer.allocUnsafeSlow(STREAM_COPY_BYTES)];
  const readInto = async (buffer: Buffer, position: number): Promise<Buffer> => {
    const { bytesRead } = await source.read(buffer, 0, Math.min(buffer.length, size - position), position);
    return buffer.subarray(0, bytesRead);
  };
  let position = 0;
  let fromFile = 0;
  let turn = 0;
  let next = size > 0 ? readInto(buffers[0] as Buffer, 0) : undefined;
  while (next) {
    let chunk = await next;
    fromFile += chunk.length;
    // Shrunk under us (damage, never a normal writer): keep the promised length with zeros; restore's hash refuses it.
    if (chunk.length === 0) chunk = Buffer.alloc(Math.min(STREAM_COPY_BYTES, size - position));
    position += chunk.length;
    turn ^= 1;
    next = position < size ? readInto(buffers[turn] as Buffer, position) : undefined;
    await args.write(chunk);
    args.onBytes(chunk.length);
  }
  return fromFile;
}
