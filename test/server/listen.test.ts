/**
 * The listening server's own duties, on a real socket on 127.0.0.1: an answer queued behind a
 * pipelined one ends when the client goes away (node:http 20 emits no 'close' on it, so its body
 * used to wait for a 'drain' forever, holding whatever it read from, e.g. a fill and its spool).
 * The crowd version, against a real fill, is in test/store/s3FillServeStress.test.ts.
 */
import { once } from 'node:events';
import { connect } from 'node:net';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { App } from '../../src/server/createApp.js';
import { listen } from '../../src/server/listen.js';
import { Metrics } from '../../src/server/metrics.js';
import type { Reply } from '../../src/server/reply.js';

describe('listen', () => {
  it('ends an answer queued behind a pipelined one when the client goes away: its request is aborted and its body let go', async () => {
    const answers: Array<{ signal: AbortSignal; body: Readable }> = [];
    const app = {
      metrics: new Metrics(),
      context: {} as App['context'],
      async handle(req): Promise<Reply> {
        // An endless body: only the client going away ends it.
        const body = new Readable({
          read() {
            this.push(Buffer.alloc(256 * 1024, 1));
          },
        });
        answers.push({ signal: req.signal, body });
        return { status: 200, headers: { 'content-length': String(1 << 30) }, body: { kind: 'stream', stream: body } };
      },
    } satisfies App;
    const server = await listen({ app, port: 0, graceMs: 60_000 });
    try {
      const socket = connect(Number(new URL(server.url).port), '127.0.0.1');
      socket.write('GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n');
      let received = 0;
      socket.on('data', (data: Buffer) => {
        received += data.byteLength;
        if (received > 1024 * 1024 && answers.length === 2) socket.destroy();
      });
      await once(socket, 'close');
      // Without the fix the second answer waits here until the test times out.
      await Promise.all(answers.map(({ signal }) => (signal.aborted ? undefined : once(signal, 'abort'))));
      await Promise.all(answers.map(({ body }) => (body.destroyed ? undefined : once(body, 'close'))));
      expect(answers.map(({ body }) => body.destroyed)).toEqual([true, true]);
    } finally {
      // Nothing in flight is left for the 60 s grace period.
      await server.close();
    }
  }, 15_000);
});
