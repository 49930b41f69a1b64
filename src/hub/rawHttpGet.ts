/**
 * A GET over a plain TCP socket, for blob bodies from `http://` endpoints
 * (a mirror on the LAN, a pull-through cache, the test origin).
 *
 * Why not node:http: its parser and streams hand a body over in 64 KiB
 * chunks, and that costs about 1.3 s of main-thread time per GiB here, more
 * than the network and the disk together. This reader has the kernel copy
 * each read straight into the caller's buffers (the hashing ring's shared
 * slots), so the bytes are never copied in JavaScript.
 *
 * It does only what a blob download needs: redirects, and bodies framed by
 * Content-Length. Anything else is handed back to the caller, which uses
 * hubRequest: https hops (`handOff`) and chunked or unframed bodies
 * (`contentLength` undefined).
 */
import { connect, type Socket } from 'node:net';
import { HubcacheError } from '../errors.js';
import { hopHeaders, MAX_REDIRECTS, networkError, tooManyRedirects } from './hubRequest.js';

export interface RawHttpGetParams {
  url: string;
  /** Sent only while the URL stays on the origin it was given for. */
  token?: string | undefined;
  headers: Record<string, string>;
  signal?: AbortSignal | undefined;
  headersTimeoutMs?: number;
  /** Longest silence while receiving (not while the caller has no room) before the body counts as stalled. */
  bodyTimeoutMs?: number;
  what: string;
}

/** Where received body bytes go. */
export interface BodyTarget {
  /** Room for the next bytes, or undefined when there is none yet (reading pauses until `wake`). Same answer until `commit`. */
  space(): Buffer | undefined;
  /** `n` bytes were placed at the start of the last `space()`. */
  commit(n: number): void;
}

export interface RawHttpResponse {
  status: number;
  /** Lower-case names; repeated headers become arrays. */
  headers: Record<string, string | string[] | undefined>;
  /** The URL that answered (after redirects). */
  url: string;
  /** From Content-Length; undefined for bodies `receive` cannot take (chunked, or ended by close). */
  contentLength: number | undefined;
  /** Moves the whole body into `target`; rejects on a broken, short or stalled body. */
  receive(target: BodyTarget): Promise<void>;
  /** Call when `space()` has room again after it had none. */
  wake(): void;
  close(): void;
}

export type RawHttpGetResult = { response: RawHttpResponse; handOff?: undefined } | { response?: undefined; handOff: string };

const HEAD_LIMIT = 64 * 1024;
/** Where reads go while the target has no room: a read is already armed when the target fills. */
const SPARE_BYTES = 256 * 1024;
const HEAD_END = Buffer.from('\r\n\r\n');

export async function rawHttpGet(params: RawHttpGetParams): Promise<RawHttpGetResult> {
  let url = params.url;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const target = new URL(url);
    if (target.protocol !== 'http:') return { handOff: url };
    const headers = hopHeaders({ url, firstUrl: params.url, token: params.token, headers: params.headers });
    for (const [name, value] of Object.entries(headers)) {
      // A line break would end the header early and let the rest pose as another header.
      if (/[\r\n]/.test(value)) {
        throw new HubcacheError({ code: 'E_USAGE', message: `Cannot ${params.what}: the ${name === 'authorization' ? 'token (HF_TOKEN)' : `${name} header`} contains a line break` });
      }
    }
    let response: RawHttpResponse;
    try {
      response = await exchange({ ...params, target, headers });
    } catch (err) {
      throw networkError({ err, url, what: params.what });
    }
    const location = response.headers.location;
    if (response.status >= 300 && response.status < 400 && typeof location === 'string') {
      response.close();
      url = new URL(location, url).toString();
      continue;
    }
    return { response };
  }
  throw tooManyRedirects({ firstUrl: params.url, what: params.what });
}

function protocolError(message: string): Error {
  // Marked like a socket failure: a garbled answer is worth one more try on a fresh connection.
  return Object.assign(new Error(message), { code: 'HPE_INVALID_CONSTANT' });
}

interface Head {
  status: number;
  headers: Record<string, string | string[] | undefined>;
}

function parseHead(text: string): Head {
  const lines = text.split('\r\n');
  const statusLine = /^HTTP\/1\.[01] (\d{3})(?: |$)/.exec(lines[0] ?? '');
  if (!statusLine) throw protocolError(`not an HTTP/1.1 answer: ${JSON.stringify((lines[0] ?? '').slice(0, 80))}`);
  const headers: Head['headers'] = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw protocolError(`malformed header line ${JSON.stringify(line.slice(0, 80))}`);
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    const before = headers[name];
    headers[name] = before === undefined ? value : Array.isArray(before) ? [...before, value] : [before, value];
  }
  return { status: Number(statusLine[1]), headers };
}

function bodyLength(head: Head): number | undefined {
  if (head.status === 204 || head.status === 304) return 0;
  if (head.headers['transfer-encoding'] !== undefined) return undefined;
  const value = head.headers['content-length'];
  if (typeof value !== 'string' || !/^\d+$/.test(value)) return undefined;
  return Number(value);
}

function exchange(params: RawHttpGetParams & { target: URL; headers: Record<string, string> }): Promise<RawHttpResponse> {
  const { target, signal } = params;
  const headersTimeoutMs = params.headersTimeoutMs ?? 30_000;
  const bodyTimeoutMs = params.bodyTimeoutMs ?? 60_000;
  return new Promise<RawHttpResponse>((resolveHead, rejectHead) => {
    const headBuffer = Buffer.allocUnsafe(HEAD_LIMIT);
    let headLength = 0;
    const spare = Buffer.allocUnsafe(SPARE_BYTES);
    let phase: 'head' | 'waiting' | 'body' | 'done' = 'head';
    let contentLength = 0;
    let received = 0;
    // Body bytes that arrived but are not in the target yet (after the head, or read into `spare`).
    let pending: Buffer | undefined;
    let paused = false;
    let bodyTarget: BodyTarget | undefined;
    let settleBody: { resolve: () => void; reject: (err: Error) => void } | undefined;
    let failure: Error | undefined;

    const finish = (err?: Error): void => {
      if (phase === 'done') return;
      const headDone = phase !== 'head';
      phase = 'done';
      socket.destroy();
      signal?.removeEventListener('abort', onAbort);
      if (err) failure = err;
      if (!headDone) {
        rejectHead(err ?? new Error('connection closed'));
        return;
      }
      if (settleBody) {
        if (err) settleBody.reject(err);
        else settleBody.resolve();
      }
    };
    const onAbort = (): void => finish(Object.assign(new Error('aborted'), { name: 'AbortError', cause: signal?.reason }));

    const targetSpace = (): Buffer | undefined => {
      const room = bodyTarget?.space();
      return room && room.length > 0 ? room : undefined;
    };

    /** Room for the next socket read, never past the announced end of the body. */
    const readSpace = (): Buffer | undefined => {
      const room = targetSpace();
      const left = contentLength - received;
      if (!room || left <= 0) return undefined;
      return room.length > left ? room.subarray(0, left) : room;
    };

    /** Moves `pending` (already counted in `received`) into the target as far as there is room; true when all of it went. */
    const drainPending = (): boolean => {
      while (pending && pending.length > 0) {
        const room = targetSpace();
        if (!room) return false;
        const n = Math.min(room.length, pending.length);
        pending.copy(room, 0, 0, n);
        bodyTarget?.commit(n);
        pending = n === pending.length ? undefined : pending.subarray(n);
      }
      pending = undefined;
      return true;
    };

    const pause = (): false => {
      paused = true;
      // Waiting for room (the disk) is not a stalled network.
      socket.setTimeout(0);
      return false;
    };

    /** After new room or new bytes: go on reading, or finish. */
    const proceed = (): boolean => {
      if (!drainPending()) return pause();
      if (received === contentLength) {
        finish();
        return false;
      }
      if (!readSpace()) return pause();
      return true;
    };

    const onHead = (): boolean => {
      const end = headBuffer.subarray(0, headLength).indexOf(HEAD_END);
      if (end < 0) {
        if (headLength >= HEAD_LIMIT) finish(protocolError(`response head larger than ${HEAD_LIMIT} bytes`));
        return phase !== 'done';
      }
      let head: Head;
      try {
        head = parseHead(headBuffer.toString('latin1', 0, end));
      } catch (err) {
        finish(err as Error);
        return false;
      }
      const rest = headBuffer.subarray(end + HEAD_END.length, headLength);
      if (head.status >= 100 && head.status < 200) {
        // An interim answer (103 Early Hints): the real one follows.
        rest.copy(headBuffer, 0);
        headLength = rest.length;
        return onHead();
      }
      const length = bodyLength(head);
      contentLength = length ?? 0;
      received = Math.min(rest.length, contentLength);
      pending = rest.length > 0 ? Buffer.from(rest.subarray(0, received)) : undefined;
      phase = 'waiting';
      socket.setTimeout(0);
      resolveHead({
        status: head.status,
        headers: head.headers,
        url: target.toString(),
        contentLength: length,
        receive: (t) =>
          new Promise<void>((resolve, reject) => {
            if (failure) {
              reject(failure);
              return;
            }
            if (length === undefined || phase !== 'waiting') {
              reject(new Error('this body cannot be received here'));
              return;
            }
            bodyTarget = t;
            settleBody = { resolve, reject };
            phase = 'body';
            paused = true;
            wake();
          }),
        wake,
        close: () => finish(),
      });
      // Nothing more is read until the caller decides what to do with this answer.
      return false;
    };

    const wake = (): void => {
      if (phase !== 'body' || !paused) return;
      if (!proceed()) return;
      paused = false;
      socket.setTimeout(bodyTimeoutMs);
      socket.resume();
    };

    const nextBuffer = (): Buffer => {
      if (phase === 'head' && headLength < HEAD_LIMIT) return headBuffer.subarray(headLength);
      if (phase === 'body' && !pending) {
        const room = readSpace();
        if (room) return room;
      }
      return spare;
    };

    const onRead = (n: number, buffer: Buffer): boolean => {
      if (phase === 'head') {
        headLength += n;
        return onHead();
      }
      if (phase !== 'body') return false;
      if (buffer === spare) {
        // Read while the target was full: keep no more than the body has left.
        const keep = Math.min(n, contentLength - received);
        pending = spare.subarray(0, keep);
        received += keep;
      } else {
        received += n;
        bodyTarget?.commit(n);
      }
      return proceed();
    };

    const socket: Socket = connect({
      host: target.hostname.replace(/^\[|\]$/g, ''),
      port: Number(target.port || 80),
      noDelay: true,
      onread: { buffer: nextBuffer, callback: onRead },
    });
    socket.setTimeout(headersTimeoutMs);
    socket.on('timeout', () => {
      const stalled = phase === 'body';
      finish(Object.assign(new Error(stalled ? `no data for ${bodyTimeoutMs} ms` : `no answer in ${headersTimeoutMs} ms`), { code: stalled ? 'HUBCACHE_STALLED' : 'HUBCACHE_HEADERS_TIMEOUT' }));
    });
    // Once every body byte is here (some perhaps still in `pending`), a closing or failing socket
    // changes nothing: Connection: close means the server hangs up after the body.
    const bodyComplete = (): boolean => (phase === 'waiting' || phase === 'body') && received === contentLength;
    socket.on('error', (err) => {
      if (!bodyComplete()) finish(err);
    });
    const onClosed = (): void => {
      if (phase === 'head') finish(Object.assign(new Error('the connection closed before an answer'), { code: 'ECONNRESET' }));
      else if (phase !== 'done' && !bodyComplete()) finish(Object.assign(new Error('the connection closed before the whole body arrived'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
    };
    socket.on('end', onClosed);
    socket.on('close', onClosed);
    if (signal?.aborted) {
      onAbort();
      return;
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    const path = `${target.pathname}${target.search}`;
    const lines = [`GET ${path} HTTP/1.1`, `Host: ${target.host}`, 'Connection: close'];
    for (const [name, value] of Object.entries(params.headers)) lines.push(`${name}: ${value}`);
    socket.write(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  });
}
