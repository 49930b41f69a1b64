/**
 * A follower's request for one part to the leading peer, against a real HTTP server on 127.0.0.1
 * playing the peer: the part lands in the caller's buffer, and every other answer (not yet, wrong
 * status, wrong length, a cut body, silence) is a result the driver acts on, never a throw.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchPeerPart, PEER_KEY_HEADER } from '../../src/store/fetchPeerPart.js';

const PART = 256 * 1024 + 7;
const data = randomBytes(PART);
const seenKeys: Array<string | undefined> = [];
let behaviour: (req: IncomingMessage, res: ServerResponse) => void = () => undefined;
const server = createServer((req, res) => {
  seenKeys.push(req.headers[PEER_KEY_HEADER] as string | undefined);
  behaviour(req, res);
});
let url = '';

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const ask = (params: { into?: Buffer; timeoutMs?: number } = {}) =>
  fetchPeerPart({
    peer: { url, key: 'k'.repeat(32) },
    algo: 'sha256',
    etag: 'ef'.repeat(32),
    index: 3,
    length: PART,
    timeoutMs: params.timeoutMs ?? 5_000,
    signal: new AbortController().signal,
    ...(params.into ? { into: params.into } : {}),
  });

describe('fetchPeerPart', () => {
  it('receives the part into the given buffer, sending the lease key', async () => {
    let path = '';
    behaviour = (req, res) => {
      path = req.url ?? '';
      res.writeHead(200, { 'content-length': String(PART) });
      // In pieces, with pauses, as a spool read would send it.
      void (async () => {
        for (let at = 0; at < PART; at += 50_000) {
          res.write(data.subarray(at, Math.min(PART, at + 50_000)));
          await new Promise((resolve) => setTimeout(resolve, 2));
        }
        res.end();
      })();
    };
    const into = Buffer.alloc(PART + 100);
    const got = await ask({ into });
    expect(got.kind).toBe('part');
    if (got.kind !== 'part') return;
    expect(got.data.equals(data)).toBe(true);
    expect(got.data.buffer).toBe(into.buffer);
    expect(path).toBe(`/api/hubcache/peer/fills/sha256/${'ef'.repeat(32)}/parts/3`);
    expect(seenKeys.at(-1)).toBe('k'.repeat(32));
  });

  it('answers not-yet to a 404 and failed to other statuses, other lengths, cut bodies and silence', async () => {
    behaviour = (_req, res) => void res.writeHead(404, { 'content-length': '0' }).end();
    expect((await ask()).kind).toBe('not-yet');
    behaviour = (_req, res) => void res.writeHead(403, { 'content-length': '0' }).end();
    expect(await ask()).toEqual({ kind: 'failed', reason: 'status 403' });
    behaviour = (_req, res) => void res.writeHead(200, { 'content-length': String(PART - 1) }).end(data.subarray(1));
    expect(await ask()).toEqual({ kind: 'failed', reason: `length ${PART - 1}, expected ${PART}` });
    behaviour = (_req, res) => {
      res.writeHead(200, { 'content-length': String(PART) });
      res.write(data.subarray(0, 1000), () => res.destroy());
    };
    expect((await ask()).kind).toBe('failed');
    behaviour = () => undefined;
    expect(await ask({ timeoutMs: 300 })).toEqual({ kind: 'failed', reason: 'timeout or aborted' });
  });
});
