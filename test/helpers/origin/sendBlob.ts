/**
 * Sends a blob's bytes (whole, ranged, or mangled by a body fault). Shared by
 * the resolve route (regular files) and the CDN (LFS files).
 */
import { createReadStream } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { BodyFault } from './faults.js';
import type { PreparedBlob } from './prepareFixture.js';
import { decideRange, ifRangeAllowsPartial } from './range.js';
import type { OriginStats } from './stats.js';

// Big reads keep per-chunk overhead negligible at loopback speeds (GB/s).
const READ_CHUNK = 1024 * 1024;

export interface SendBlobParams {
  req: IncomingMessage;
  res: ServerResponse;
  blob: PreparedBlob;
  /** Quoted ETag header value for this response. */
  etag: string;
  /** The blob's cache name, for `stats.bytesByBlob`. */
  statsKey: string;
  lastModified: string;
  headers: Record<string, string>;
  stats: OriginStats;
  /** Called once, for GET only, so a HEAD does not use up a body fault. */
  takeFault: () => BodyFault | undefined;
  /** Called once, for GET only: whether to answer a Range request with the whole body. */
  takeIgnoreRange: () => boolean;
}

export async function sendBlob(params: SendBlobParams): Promise<void> {
  const { req, res, blob } = params;
  const isGet = req.method === 'GET';
  const fault = isGet ? params.takeFault() : undefined;
  const ignoreRange = isGet && params.takeIgnoreRange();

  const rangeHeader = ignoreRange ? undefined : header(req, 'range');
  const allowed = ifRangeAllowsPartial({ ifRange: header(req, 'if-range'), etag: params.etag, lastModified: params.lastModified });
  const decision = decideRange({ range: allowed ? rangeHeader : undefined, size: blob.size });

  const headers: Record<string, string> = {
    ...params.headers,
    'Accept-Ranges': 'bytes',
    ETag: params.etag,
    'Last-Modified': params.lastModified,
  };
  if (decision.kind === 'unsatisfiable') {
    res.writeHead(416, { ...headers, 'Content-Range': `bytes */${blob.size}`, 'Content-Length': '0' });
    res.end();
    return;
  }
  const start = decision.kind === 'partial' ? decision.start : 0;
  const end = decision.kind === 'partial' ? decision.end : blob.size - 1;
  const length = end - start + 1;
  if (decision.kind === 'partial') headers['Content-Range'] = `bytes ${start}-${end}/${blob.size}`;
  res.writeHead(decision.kind === 'partial' ? 206 : 200, { ...headers, 'Content-Length': String(length) });

  if (!isGet || length === 0) {
    res.end();
    return;
  }
  const count = (bytes: number) => params.stats.countBytes(params.statsKey, bytes);
  if (fault === undefined) {
    await sendPlain({ res, blob, start, end, count });
  } else {
    await sendFaulted({ req, res, blob, start, end, fault, count });
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

async function sendPlain(params: { res: ServerResponse; blob: PreparedBlob; start: number; end: number; count: (n: number) => void }): Promise<void> {
  const { res, blob, start, end } = params;
  if (blob.body.kind === 'memory') {
    params.count(end - start + 1);
    res.end(blob.body.data.subarray(start, end + 1));
    return;
  }
  const stream = createReadStream(blob.body.path, { start, end, highWaterMark: READ_CHUNK });
  stream.on('data', (chunk) => params.count(chunk.length));
  // A client that hangs up mid-body rejects the pipeline; that is its right, not an origin error.
  await pipeline(stream, res).catch(() => undefined);
}

async function* readBody(blob: PreparedBlob, start: number, end: number): AsyncGenerator<Buffer> {
  if (blob.body.kind === 'memory') {
    for (let at = start; at <= end; at += READ_CHUNK) yield blob.body.data.subarray(at, Math.min(at + READ_CHUNK, end + 1));
    return;
  }
  for await (const chunk of createReadStream(blob.body.path, { start, end, highWaterMark: READ_CHUNK })) yield chunk as Buffer;
}

async function sendFaulted(params: {
  req: IncomingMessage;
  res: ServerResponse;
  blob: PreparedBlob;
  start: number;
  end: number;
  fault: BodyFault;
  count: (n: number) => void;
}): Promise<void> {
  const { req, res, fault } = params;
  const length = params.end - params.start + 1;
  const cut = 'afterBytes' in fault && fault.afterBytes !== undefined ? Math.min(fault.afterBytes, length) : Math.floor(length / 2);
  const socket = req.socket;
  let sent = 0;
  // Headers go out now, so a fault at byte 0 is "headers, then trouble", not a dead connection.
  res.flushHeaders();

  const send = async (chunk: Buffer): Promise<boolean> => {
    if (chunk.byteLength === 0) return !res.destroyed;
    const ok = await write(res, chunk);
    if (ok) {
      sent += chunk.byteLength;
      params.count(chunk.byteLength);
    }
    return ok;
  };

  for await (const whole of readBody(params.blob, params.start, params.end)) {
    let chunk = whole;
    const chunkStart = sent;
    const chunkEnd = sent + chunk.byteLength;
    switch (fault.kind) {
      case 'reset':
      case 'truncate':
        if (chunkEnd >= cut) {
          if (!(await send(chunk.subarray(0, cut - chunkStart)))) return;
          await letPeerRead(res);
          if (fault.kind === 'reset') socket.resetAndDestroy();
          else socket.end();
          return;
        }
        break;
      case 'corrupt':
        if (cut >= chunkStart && cut < chunkEnd) {
          chunk = Buffer.from(chunk); // never mutate the fixture's own memory
          chunk[cut - chunkStart] = (chunk[cut - chunkStart] ?? 0) ^ 0xff;
        }
        break;
      case 'stall':
        if (cut >= chunkStart && cut < chunkEnd) {
          if (!(await send(chunk.subarray(0, cut - chunkStart)))) return;
          await sleepOrClose(res, fault.ms ?? Infinity);
          chunk = chunk.subarray(cut - chunkStart);
        }
        break;
      case 'trickle': {
        // 20 slices a second keeps the rate smooth without a timer per byte.
        const slice = Math.max(1, Math.floor(fault.bytesPerSecond / 20));
        for (let at = 0; at < chunk.byteLength; at += slice) {
          const part = chunk.subarray(at, at + slice);
          if (!(await send(part))) return;
          await sleepOrClose(res, (part.byteLength / fault.bytesPerSecond) * 1000);
        }
        continue;
      }
    }
    if (!(await send(chunk))) return;
  }
  if (!res.destroyed) res.end();
}

/**
 * Gives the client time to read what was flushed before we cut the connection:
 * a reset can make the receiver drop data its application has not read yet,
 * which would make "how much arrived" nondeterministic. The setImmediate
 * matters when client and origin share a process (tests): after the event loop
 * was blocked, timers run before I/O polling, so a bare timer could reset the
 * socket before the client's pending read is processed; an immediate runs
 * after that poll.
 */
async function letPeerRead(res: ServerResponse): Promise<void> {
  await sleepOrClose(res, 20);
  await new Promise((resolve) => setImmediate(resolve));
}

/** Resolves true once the chunk is handed to the kernel, false if the client went away. */
function write(res: ServerResponse, chunk: Buffer): Promise<boolean> {
  if (res.destroyed) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onClose = () => resolve(false);
    res.once('close', onClose);
    res.write(chunk, (error) => {
      res.off('close', onClose);
      resolve(!error && !res.destroyed);
    });
  });
}

/** Waits `ms` (Infinity: forever), but gives up as soon as the connection closes. */
function sleepOrClose(res: ServerResponse, ms: number): Promise<void> {
  if (res.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      if (timer !== undefined) clearTimeout(timer);
      res.off('close', done);
      resolve();
    };
    const timer = Number.isFinite(ms) ? setTimeout(done, ms) : undefined;
    res.once('close', done);
  });
}
