/**
 * Hostile or odd requests on real sockets: strange Range headers, traversal in every segment and
 * encoding, header injection through revisions and file names, request smuggling on paths-info,
 * oversized headers, many requests on one kept-alive connection, tokens in queries never logged.
 */
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOrigin, type Origin } from '../helpers/origin/createOrigin.js';
import { linearRepo } from '../helpers/origin/fixture.js';
import { fetchAll, startMirror, type Mirror } from '../helpers/startMirror.js';
import type { RequestLog } from '../../src/server/createApp.js';

const MiB = 1024 * 1024;
let origin: Origin;
let mirror: Mirror;
const logs: RequestLog[] = [];

beforeAll(async () => {
  origin = await createOrigin({
    fixture: {
      repos: [linearRepo({ repoId: 'acme/r', commits: [{ files: [{ path: 'w.bin', source: { size: 2 * MiB, seed: 'hostile-req-w' } }, { path: 'c.json', source: '{"x":1}' }] }] })],
    },
  });
  mirror = await startMirror({ upstream: origin.url, log: (record) => logs.push(record) });
  // Cached before the probes.
  expect((await fetchAll(`${mirror.url}/acme/r/resolve/main/w.bin`)).status).toBe(200);
});
afterAll(async () => {
  await mirror?.close();
  await origin?.close();
});

/** One raw HTTP exchange: what the server wrote back before closing or `ms` passed. */
function raw(text: string, ms = 2_000): Promise<string> {
  return new Promise((resolve) => {
    const { port } = new URL(mirror.url);
    const chunks: Buffer[] = [];
    const socket = connect(Number(port), '127.0.0.1', () => socket.write(text));
    const done = (): void => {
      socket.destroy();
      resolve(Buffer.concat(chunks).toString('latin1'));
    };
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('close', done);
    socket.on('error', done);
    setTimeout(done, ms).unref();
  });
}

describe('Range headers clients should not send', () => {
  const size = 2 * MiB;
  const url = (): string => `${mirror.url}/acme/r/resolve/main/w.bin`;
  const ask = async (range: string) => fetchAll(url(), { headers: { range } });

  it('reversed, multi-range and malformed ranges get the whole file (RFC 9110 allows ignoring them)', async () => {
    for (const range of ['bytes=5-2', 'bytes=0-0,5-9', 'bytes=abc', 'items=0-5', 'bytes=--5']) {
      const got = await ask(range);
      expect(got.status, range).toBe(200);
      expect(got.body.byteLength, range).toBe(size);
    }
  });

  it('past the end, huge and zero-suffix ranges are 416; a last byte past the end means "to the end"', async () => {
    for (const range of [`bytes=${size}-`, 'bytes=99999999999999999999-', 'bytes=-0', 'bytes=99999999999999999999-99999999999999999999']) {
      const got = await ask(range);
      expect(got.status, range).toBe(416);
      expect(got.headers.get('content-range'), range).toBe(`bytes */${size}`);
    }
    const open = await ask('bytes=10-99999999999999999999');
    expect(open.status).toBe(206);
    expect(open.headers.get('content-range')).toBe(`bytes 10-${size - 1}/${size}`);
    expect(open.body.byteLength).toBe(size - 10);
    const suffix = await ask('bytes=-99999999999999999999');
    expect(suffix.status).toBe(206);
    expect(suffix.body.byteLength).toBe(size);
  });
});

describe('traversal and injection', () => {
  it('"..", "." and their encodings in every segment are 400 or 404, and nothing reaches upstream', async () => {
    origin.stats.reset();
    const probes = [
      '/acme/r/resolve/main/..%2F..%2Fetc%2Fpasswd',
      '/acme/r/resolve/main/%2e%2e/%2e%2e/etc/passwd',
      '/acme/r/resolve/main/sub/%2E%2E/%2E%2E/x',
      '/acme/r/resolve/..%2F..%2F/w.bin',
      '/acme/r/resolve/%2e%2e/w.bin',
      '/acme/%2e%2e/resolve/main/w.bin',
      '/%2e%2e/r/resolve/main/w.bin',
      '/acme/r/resolve/main/%c0%ae%c0%ae/x',
      '/acme/r/resolve/main/a%5c..%5cb',
      '/acme/r/resolve/main/a%00b',
      '/acme/r/resolve/main%00/w.bin',
      '/acme/r/resolve/main/%2fetc%2fpasswd',
      '/acme/r/resolve/main//etc/passwd',
      '/api/models/acme/r/tree/main/..%2F..',
      '/api/models/acme/%2e%2e/revision/main',
      '/datasets/%2e%2e/%2e%2e/resolve/main/x',
    ];
    for (const path of probes) {
      const got = await raw(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      expect(got, path).toMatch(/^HTTP\/1\.1 40[04] /);
    }
    expect(origin.stats.requests.head + origin.stats.requests.getResolve + origin.stats.requests.cdn).toBe(0);
  });

  it('a double-encoded ".." (%252e%252e) is a file literally named "%2e%2e": asked upstream encoded, never a climb', async () => {
    const got = await fetchAll(`${mirror.url}/acme/r/resolve/main/%252e%252e/w.bin`, { method: 'HEAD' });
    expect(got.status).toBe(404);
    expect(got.headers.get('x-error-code')).toBe('EntryNotFound');
  });

  it('CR/LF in a revision or a file name never becomes a response header', async () => {
    for (const path of ['/acme/r/resolve/main%0d%0aX-Evil:%201/w.bin', '/acme/r/resolve/main/w.bin%0d%0aX-Evil:%201', '/acme/r/resolve/main/%0d%0aX-Evil:%201']) {
      const got = await raw(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      const head = got.split('\r\n\r\n')[0] ?? '';
      expect(head, path).toMatch(/^HTTP\/1\.1 \d{3} /);
      // Quoted inside a message is fine (`"main\r\nX-Evil..."` escaped); a header line of its own is not.
      expect(head.split('\r\n').filter((line) => /^x-evil/i.test(line)), path).toEqual([]);
    }
  });

  it('Content-Length with Transfer-Encoding on paths-info (smuggling) is refused, the connection closed', async () => {
    const body = '0\r\n\r\nGET /acme/r/resolve/main/c.json HTTP/1.1\r\nHost: x\r\n\r\n';
    const got = await raw(
      `POST /api/models/acme/r/paths-info/main HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nTransfer-Encoding: chunked\r\n\r\n${body}`,
    );
    expect(got).toMatch(/^HTTP\/1\.1 400 /);
    expect(got.match(/HTTP\/1\.1 /g)).toHaveLength(1);
  });

  it('a 64 KiB header is refused (431) and the server stays up', async () => {
    const got = await raw(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`);
    expect(got).toMatch(/^HTTP\/1\.1 431 /);
    expect((await fetchAll(`${mirror.url}/healthz`)).status).toBe(200);
  });
});

describe('many small requests, tokens', () => {
  it('2000 requests on one kept-alive connection: all answered, no descriptor or listener left behind', async () => {
    const fds = (): number => readdirSync('/proc/self/fd').length;
    const before = fds();
    const requests = 2000;
    const text = Array.from({ length: requests }, () => 'HEAD /acme/r/resolve/main/c.json HTTP/1.1\r\nHost: x\r\n\r\n').join('');
    const got = await new Promise<string>((resolve) => {
      const { port } = new URL(mirror.url);
      let out = '';
      const socket = connect(Number(port), '127.0.0.1', () => socket.write(text));
      socket.on('data', (c: Buffer) => {
        out += c.toString('latin1');
        if ((out.match(/HTTP\/1\.1 200 /g) ?? []).length >= requests) {
          socket.destroy();
          resolve(out);
        }
      });
      socket.on('close', () => resolve(out));
    });
    expect((got.match(/HTTP\/1\.1 200 /g) ?? []).length).toBe(requests);
    await new Promise((r) => setTimeout(r, 200));
    expect(fds()).toBeLessThanOrEqual(before + 2);
  });

  it('a token in the query string or the Authorization header is never in the request log', async () => {
    logs.length = 0;
    await fetchAll(`${mirror.url}/acme/r/resolve/main/c.json?token=hf_querysecret123`, { headers: { authorization: 'Bearer hf_headersecret456' } });
    await fetchAll(`${mirror.url}/api/models/acme/r/revision/main?access_token=hf_querysecret123`);
    const text = JSON.stringify(logs);
    expect(logs.length).toBeGreaterThanOrEqual(2);
    expect(text).not.toContain('querysecret');
    expect(text).not.toContain('headersecret');
  });

  it('a hash of the file matches after all that (nothing served was damaged)', async () => {
    const got = await fetchAll(`${mirror.url}/acme/r/resolve/main/w.bin`);
    expect(createHash('sha256').update(got.body).digest('hex')).toBe(origin.file({ repoId: 'acme/r', path: 'w.bin' }).blob.sha256);
  });
});
