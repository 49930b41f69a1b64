/**
 * The raw reader over TLS, in a child process that trusts the test certificate
 * through NODE_EXTRA_CA_CERTS (read once at start-up, so not in this process).
 * Node's TLS layer keeps handing over records it has already decrypted after
 * the reader pauses; every one of them must reach the target, in order.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selfSignedCert } from '../helpers/origin/selfSignedCert.js';

const RAW_HTTP_GET = pathToFileURL(fileURLToPath(new URL('../../dist/hub/rawHttpGet.js', import.meta.url))).href;
const body = randomBytes(3 * 1024 * 1024 + 777);
const bodySha256 = createHash('sha256').update(body).digest('hex');

let tls: TlsServer;
let tlsPort = 0;
let hub: HttpServer;
let hubPort = 0;
const tlsRequests: string[] = [];

beforeAll(async () => {
  const cert = selfSignedCert();
  tls = createTlsServer({ key: cert.key, cert: cert.cert }, (socket: TLSSocket) => {
    let text = '';
    socket.on('error', () => undefined);
    socket.on('data', (data) => {
      text += data.toString('latin1');
      if (!text.includes('\r\n\r\n')) return;
      tlsRequests.push(text);
      if (text.startsWith('GET /stall ')) {
        socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`);
        socket.write(body.subarray(0, 100));
        return;
      }
      // Head and body in one go: many records are in flight whenever the reader pauses.
      socket.end(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\nETag: "e"\r\n\r\n`, 'latin1'), body]));
    });
  });
  await new Promise<void>((resolve) => tls.listen(0, '127.0.0.1', resolve));
  tlsPort = (tls.address() as { port: number }).port;
  // The Hub side: a plain-http redirect to the https CDN on another origin.
  hub = createHttpServer((_req, res) => {
    res.writeHead(302, { location: `https://localhost:${tlsPort}/bytes`, 'content-length': '0' });
    res.end();
  });
  await new Promise<void>((resolve) => hub.listen(0, '127.0.0.1', resolve));
  hubPort = (hub.address() as { port: number }).port;
});

afterAll(async () => {
  await new Promise<void>((resolve) => tls.close(() => resolve()));
  await new Promise<void>((resolve) => hub.close(() => resolve()));
});

/**
 * Runs rawHttpGet in a child: the target offers `room` bytes at a time into a 64 KiB buffer and,
 * when it is full, pauses the reader for a few ms (as a busy disk would) before taking more.
 */
function receiveInChild(params: { url: string; token?: string; room: number; bodyTimeoutMs?: number }): Promise<{ handOff?: string; sha256?: string; received?: number; error?: string; code?: string }> {
  const script = `
    import { createHash } from 'node:crypto';
    const { rawHttpGet } = await import(${JSON.stringify(RAW_HTTP_GET)});
    const p = ${JSON.stringify(params)};
    const got = await rawHttpGet({ url: p.url, token: p.token, headers: {}, bodyTimeoutMs: p.bodyTimeoutMs, what: 'probe' });
    if (!got.response) { console.log(JSON.stringify({ handOff: got.handOff })); process.exit(0); }
    const hash = createHash('sha256');
    const buffer = Buffer.alloc(64 * 1024);
    let filled = 0, received = 0, waiting = false;
    const response = got.response;
    try {
      await response.receive({
        space: () => {
          if (filled === buffer.length) {
            if (!waiting) {
              waiting = true;
              setTimeout(() => { hash.update(buffer); filled = 0; waiting = false; response.wake(); }, 3);
            }
            return undefined;
          }
          return buffer.subarray(filled, Math.min(buffer.length, filled + p.room));
        },
        commit: (n) => { filled += n; received += n; },
      });
      hash.update(buffer.subarray(0, filled));
      console.log(JSON.stringify({ sha256: hash.digest('hex'), received }));
    } catch (err) {
      console.log(JSON.stringify({ error: err.message, code: err.code, received }));
    }
  `;
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--input-type=module', '-e', script],
      { env: { ...process.env, NODE_EXTRA_CA_CERTS: selfSignedCert().certFile }, timeout: 30_000 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`${err.message}\n${stderr}`));
        else resolve(JSON.parse(stdout.trim().split('\n').pop() ?? '{}'));
      },
    );
  });
}

describe('the raw reader over https', () => {
  it.each([7000, 16 * 1024, 64 * 1024])('receives every byte in order when the target pauses it (rooms of %i bytes)', async (room) => {
    const got = await receiveInChild({ url: `https://localhost:${tlsPort}/bytes`, room });
    expect(got.error).toBeUndefined();
    expect(got.received).toBe(body.length);
    expect(got.sha256).toBe(bodySha256);
  });

  it('follows an http redirect to the https CDN itself (no hand-off), without the token', async () => {
    tlsRequests.length = 0;
    const got = await receiveInChild({ url: `http://127.0.0.1:${hubPort}/resolve`, token: 'hf_secret_token', room: 1 << 20 });
    expect(got.handOff).toBeUndefined();
    expect(got.sha256).toBe(bodySha256);
    expect(tlsRequests).toHaveLength(1);
    expect(tlsRequests[0]).not.toMatch(/authorization/i);
    expect(tlsRequests[0]).toMatch(/^Host: localhost:\d+\r$/m);
  });

  it('fails a stalled TLS body as a stall, keeping what arrived', async () => {
    const got = await receiveInChild({ url: `https://localhost:${tlsPort}/stall`, room: 1 << 20, bodyTimeoutMs: 300 });
    expect(got.code).toBe('HUBCACHE_STALLED');
    expect(got.received).toBe(100);
  });

  it('refuses a certificate it does not trust', async () => {
    // 127.0.0.1 is in the certificate, but without NODE_EXTRA_CA_CERTS nothing vouches for it.
    const script = `
      const { rawHttpGet } = await import(${JSON.stringify(RAW_HTTP_GET)});
      try { await rawHttpGet({ url: 'https://127.0.0.1:${tlsPort}/bytes', headers: {}, what: 'probe' }); console.log('accepted'); }
      catch (err) { console.log(err.code ?? err.cause?.code ?? err.message); }
    `;
    const env = { ...process.env };
    delete env.NODE_EXTRA_CA_CERTS;
    const out = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, ['--input-type=module', '-e', script], { env, timeout: 30_000 }, (err, stdout) => (err ? reject(err) : resolve(stdout.trim()))),
    );
    expect(out).toMatch(/SELF_SIGNED|UNABLE_TO_VERIFY|CERT/);
  });
});
