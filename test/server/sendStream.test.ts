/**
 * The server's body writer against a real HTTP server and client on 127.0.0.1: every slice a pool
 * lent out comes back once the socket took it (so the pool reuses the buffer), and a client that
 * goes away ends the write with the source destroyed.
 */
import { once } from 'node:events';
import { createServer, get, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { sendStream } from '../../src/server/sendStream.js';
import { BufferPool } from '../../src/store/bufferPool.js';

async function serveOnce(handler: (res: ServerResponse) => Promise<void>): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createServer((_req, res) => void handler(res));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe('sendStream', () => {
  it('sends every chunk and gives each lent slice back after its write', async () => {
    const pool = new BufferPool({ maxFree: 1 });
    const part = pool.take(8 * 1024 * 1024);
    part.bytes.fill(7);
    let sent: Promise<void> | undefined;
    const server = await serveOnce(async (res) => {
      const slices = Array.from({ length: 8 }, (_, i) => part.lend(i * 1024 * 1024, (i + 1) * 1024 * 1024));
      res.writeHead(200, { 'content-length': String(part.bytes.byteLength) });
      sent = sendStream({ source: Readable.from(slices, { objectMode: false }), res });
    });
    try {
      const res = await new Promise<import('node:http').IncomingMessage>((resolve) => get(server.url, resolve));
      let bytes = 0;
      for await (const chunk of res) bytes += (chunk as Buffer).byteLength;
      expect(bytes).toBe(8 * 1024 * 1024);
      await sent;
      part.release();
      // Reused: every one of the 8 slices was given back.
      expect(pool.take(1024).bytes.buffer).toBe(part.bytes.buffer);
    } finally {
      await server.close();
    }
  });

  it('rejects and destroys the source when the client goes away', async () => {
    let outcome: Promise<unknown> | undefined;
    const source = new Readable({ read() {} });
    const server = await serveOnce(async (res) => {
      res.writeHead(200, { 'content-length': String(1 << 30) });
      outcome = sendStream({ source, res }).then(() => 'resolved', (err: Error) => err.message);
      source.push(Buffer.alloc(64 * 1024));
    });
    try {
      const req = get(server.url, (res) => {
        res.once('data', () => req.destroy());
      });
      req.on('error', () => undefined);
      await once(source, 'close');
      expect(source.destroyed).toBe(true);
      expect(await outcome).not.toBe('resolved');
    } finally {
      await server.close();
    }
  });
});
