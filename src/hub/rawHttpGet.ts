/**
 * A GET over a plain TCP or TLS socket, for blob bodies: from `http://`
 * endpoints (a mirror on the LAN, a pull-through cache, the test origin) and
 * from the https CDN the Hub redirects LFS files to.
 *
 * Why not node:http/https: its parser and streams hand a body over in 16-64 KiB
 * Buffers, and that cost about 1.3 s of main-thread time per GiB over http and
 * 1 s more than this reader over https, more than the network and the disk
 * together. This reader has each read land straight in the caller's buffers
 * (the hashing ring's shared slots): over http the kernel copies into them,
 * over https Node's TLS layer decrypts each record into them (`onread`), so
 * the bytes are never copied in JavaScript and no Buffer is made per chunk.
 *
 * It does only what a blob download needs: redirects, and bodies framed by
 * Content-Length. Anything else is handed back to the caller, which uses
 * hubRequest: other schemes (`handOff`) and chunked or unframed bodies
 * (`contentLength` undefined).
 */
import { connect, isIP, type OnReadOpts, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { HubcacheError } from '../errors.js';
import { hopHeaders, MAX_REDIRECTS, networkError, tooManyRedirects } from './hubRequest.js';
import { bodyLength, parseHead, protocolError, type Head } from './parseHead.js';

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
/**
 * Where reads go while the target has no room: a read is already armed when the target fills, and
 * over TLS the records Node already decrypted keep coming after a pause (up to one TCP read's worth).
 */
const SPARE_BYTES = 256 * 1024;
/** A TLS record's plaintext: a spare with less room left than this is replaced, not split further. */
const MIN_SPARE_READ = 16 * 1024;
const HEAD_END = Buffer.from('\r\n\r\n');

export async function rawHttpGet(params: RawHttpGetParams): Promise<RawHttpGetResult> {
  let url = params.url;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const target = new URL(url);
    if (target.protocol !== 'http:' && target.protocol !== 'https:') return { handOff: url };
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

function exchange(params: RawHttpGetParams & { target: URL; headers: Record<string, string> }): Promise<RawHttpResponse> {
  const { target, signal } = params;
  const headersTimeoutMs = params.headersTimeoutMs ?? 30_000;
  const bodyTimeoutMs = params.bodyTimeoutMs ?? 60_000;
  return new Promise<RawHttpResponse>((resolveHead, rejectHead) => {
    const headBuffer = Buffer.allocUnsafe(HEAD_LIMIT);
    let headLength = 0;
    let spare = Buffer.allocUnsafe(SPARE_BYTES);
    let spareUsed = 0;
    let phase: 'head' | 'waiting' | 'body' | 'done' = 'head';
    let contentLength = 0;
    let received = 0;
    // Body bytes that arrived but are not in the target yet (after the head, or read into `spare`), in order.
    let pending: Buffer[] = [];
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
      for (let first = pending[0]; first !== undefined; first = pending[0]) {
        const room = targetSpace();
        if (!room) return false;
        const n = Math.min(room.length, first.length);
        first.copy(room, 0, 0, n);
        bodyTarget?.commit(n);
        if (n === first.length) pending.shift();
        else pending[0] = first.subarray(n);
      }
      spareUsed = 0;
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
      pending = received > 0 ? [Buffer.from(rest.subarray(0, received))] : [];
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
      if (phase === 'body' && pending.length === 0) {
        const room = readSpace();
        if (room) return room;
      }
      // Bytes read now wait in `pending`, behind those already there: over TLS, a pause (returning
      // false) stops the socket, but Node still hands over the records it has already decrypted.
      if (spare.length - spareUsed < MIN_SPARE_READ) {
        spare = Buffer.allocUnsafe(SPARE_BYTES);
        spareUsed = 0;
      }
      return spare.subarray(spareUsed);
    };

    const onRead = (n: number, buffer: Buffer): boolean => {
      if (phase === 'head') {
        headLength += n;
        return onHead();
      }
      if (phase !== 'body' && phase !== 'waiting') return false;
      if (buffer.buffer === spare.buffer) {
        // Read while the target was full or not yet given: keep no more than the body has left.
        // Where in `spare` this read landed: handed out before a drain may have reset `spareUsed`.
        const at = buffer.byteOffset - spare.byteOffset;
        const keep = Math.min(n, contentLength - received);
        if (keep > 0) pending.push(spare.subarray(at, at + keep));
        spareUsed = Math.max(spareUsed, at + n);
        received += keep;
        return phase === 'body' ? proceed() : false;
      }
      received += n;
      bodyTarget?.commit(n);
      return proceed();
    };

    const host = target.hostname.replace(/^\[|\]$/g, '');
    const onread: OnReadOpts = { buffer: nextBuffer, callback: onRead };
    // TLS: the default trust store plus NODE_EXTRA_CA_CERTS and the host name check, as node:https
    // does; Node decrypts each record (16 KiB at most) straight into the buffer nextBuffer gave
    // (`onread` is a documented tls.connect option that @types/node leaves out).
    const tlsOptions: ConnectionOptions & { onread: OnReadOpts } = {
      host,
      port: Number(target.port || 443),
      servername: isIP(host) === 0 ? host : undefined,
      ALPNProtocols: ['http/1.1'],
      onread,
    };
    const socket: Socket = target.protocol === 'https:' ? tlsConnect(tlsOptions) : connect({ host, port: Number(target.port || 80), noDelay: true, onread });
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
