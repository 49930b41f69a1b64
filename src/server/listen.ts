/**
 * Turns the app into a listening HTTP server: request in, Reply out, bytes streamed with
 * backpressure (memory per client is one read chunk, whatever the file size). Limits keep one
 * client from exhausting the server: header and idle timeouts (a stalled reader is dropped), a
 * cap on connections, bounded request bodies (in the app). `close()` stops accepting, lets
 * answers in flight finish for a grace period, then abandons fills cleanly.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { App } from './createApp.js';
import { BodyTooLarge, type AppRequest, type Reply } from './reply.js';
import { sendStream } from './sendStream.js';

export interface ListenParams {
  app: App;
  host?: string;
  port?: number;
  /** Open connections at most (default 1024); more wait in the kernel's backlog. */
  maxConnections?: number;
  /** A connection silent this long (no request, or a client not reading) is closed. Default 60 s. */
  idleTimeoutMs?: number;
  /** On close, answers in flight get this long to finish. Default 10 s. */
  graceMs?: number;
  /** Called when the store must stop (after the grace period). */
  onClose?: () => Promise<void>;
}

export interface Listening {
  url: string;
  server: Server;
  close(): Promise<void>;
}

export async function listen(params: ListenParams): Promise<Listening> {
  const { app } = params;
  const inFlight = new Set<ServerResponse>();
  const server = createServer({ headersTimeout: 20_000, requestTimeout: 0, keepAliveTimeout: 5_000 }, (req, res) => {
    inFlight.add(res);
    res.once('close', () => inFlight.delete(res));
    closeQueuedResponse(req, res);
    void serve({ app, req, res, idleTimeoutMs: server.timeout });
  });
  server.maxConnections = params.maxConnections ?? 1024;
  server.timeout = params.idleTimeoutMs ?? 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(params.port ?? 8090, params.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.address.includes(':') ? `[${address.address}]` : address.address;
  let closed: Promise<void> | undefined;
  return {
    url: `http://${host}:${address.port}`,
    server,
    close() {
      closed ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const grace = new Promise<void>((resolve) => setTimeout(resolve, params.graceMs ?? 10_000).unref());
        await Promise.race([Promise.all([...inFlight].map((res) => new Promise((r) => res.once('close', r)))), grace]);
        server.closeAllConnections();
        await params.onClose?.();
        await stopped;
      })();
      return closed;
    },
  };
}

/**
 * An answer queued behind a pipelined one (HTTP/1.1 pipelining) has no connection yet; when the
 * client goes away first, node:http 20 destroys its request but never emits 'close' on the response
 * (see nodejs/node#62534). Everything here learns that a client is gone from that
 * 'close' (the request's abort signal, the body writer, the shutdown's wait), so without it the
 * body waited for a 'drain' that never comes, forever: its fill's reader, lent slices and spool
 * file were never let go. So it is emitted here, as Node does now.
 */
function closeQueuedResponse(req: IncomingMessage, res: ServerResponse): void {
  let closed = false;
  res.once('close', () => (closed = true));
  req.once('close', () => {
    if (closed || res.writableFinished || res.socket || !req.socket.destroyed) return;
    res.destroy();
    res.emit('close');
  });
}

async function serve(params: { app: App; req: IncomingMessage; res: ServerResponse; idleTimeoutMs: number }): Promise<void> {
  const { app, req, res } = params;
  const aborted = new AbortController();
  res.once('close', () => aborted.abort());
  const request: AppRequest = {
    method: req.method ?? 'GET',
    rawUrl: req.url ?? '/',
    headers: req.headers as Record<string, string | undefined>,
    signal: aborted.signal,
    remoteAddress: req.socket.remoteAddress,
    readBody: (limit) => readBody(req, limit),
    async whileServerWorks(work) {
      // The idle timeout is for silent clients; one waiting for a long answer is not silent.
      req.socket.setTimeout(0);
      try {
        return await work();
      } finally {
        if (!req.socket.destroyed) req.socket.setTimeout(params.idleTimeoutMs);
      }
    },
  };
  let reply: Reply;
  try {
    reply = await app.handle(request);
  } catch {
    reply = { status: 500, headers: { 'content-length': '0' }, body: { kind: 'empty' } };
  }
  await writeReply({ app, req, res, reply });
}

async function writeReply(params: { app: App; req: IncomingMessage; res: ServerResponse; reply: Reply }): Promise<void> {
  const { app, res, reply } = params;
  const body = reply.body;
  if (res.destroyed) {
    if (body.kind === 'stream') body.stream.destroy();
    return;
  }
  res.writeHead(reply.status, reply.headers);
  if (body.kind === 'empty' || params.req.method === 'HEAD') {
    if (body.kind === 'stream') body.stream.destroy();
    res.end();
    return;
  }
  if (body.kind === 'bytes') {
    res.end(body.data);
    return;
  }
  if (body.kind === 'stream') {
    await sendStream({ source: body.stream, res }).catch(() => res.destroy());
    return;
  }
  const source = body.reader.stream({ start: body.start, end: body.end });
  source.on('data', (chunk: Buffer) => {
    app.metrics.servedBytes += chunk.byteLength;
  });
  try {
    await sendStream({ source, res });
  } catch {
    // A failed fill or a client gone: the response is cut (never completed with wrong bytes).
    res.destroy();
  }
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    req.on('data', (chunk: Buffer) => {
      total += chunk.byteLength;
      // Past the limit the rest is read and dropped, so the client gets its 413 instead of a reset;
      // a client that keeps sending far beyond it is cut off.
      if (total > limit) {
        chunks.length = 0;
        if (total > DISCARD_LIMIT) req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.once('end', () => (total > limit ? reject(new BodyTooLarge()) : resolve(Buffer.concat(chunks))));
    req.once('error', reject);
    req.once('close', () => reject(new BodyTooLarge()));
  });
}

const DISCARD_LIMIT = 64 * 1024 * 1024;
