/**
 * The leader's side of peer part transfer without a store: a real S3Fill spooling into a temp
 * folder, asked through S3PeerParts (key check, long poll until the part lands, the fill's end),
 * and the route's path parser on garbage. The whole exchange between replica processes over a real
 * Ceph RGW is in s3Replicas.test.ts.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { parsePeerPartPath } from '../../src/server/peerPart.js';
import type { PeerPartAnswer } from '../../src/store/blobStore.js';
import { S3Fill } from '../../src/store/s3Fill.js';
import { S3PeerParts } from '../../src/store/s3PeerParts.js';
import { makeTempDir } from '../helpers/tempDir.js';

const ETAG = 'ab'.repeat(32);
const PART = 4096;

async function bytesOf(answer: PeerPartAnswer): Promise<Buffer> {
  if (answer.status !== 200) throw new Error(`status ${answer.status}`);
  const chunks: Buffer[] = [];
  for await (const chunk of answer.stream as Readable) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function leading(waitMs = 10_000, size = 2 * PART + 100): Promise<{ fill: S3Fill; peers: S3PeerParts; key: string; closing: AbortController }> {
  const dir = await makeTempDir({ prefix: 'hubcache-peer-' });
  let n = 0;
  const fill = new S3Fill(
    { repo: 'models--acme--x', path: 'w.bin', etag: ETAG, size },
    {
      final: () => {
        throw new Error('not used');
      },
      storedPart: async () => {
        throw new Error('not used');
      },
      spoolPath: async () => join(dir, `spool-${n++}`),
    },
  );
  fill.markStarted(PART);
  const closing = new AbortController();
  const peers = new S3PeerParts({ advertiseUrl: () => 'http://10.0.0.7:8090', waitMs, signal: closing.signal });
  const peer = peers.offer()!;
  expect(peer.url).toBe('http://10.0.0.7:8090');
  expect(peer.key).toMatch(/^[A-Za-z0-9_-]{32}$/);
  expect(peers.offer()!.key).not.toBe(peer.key);
  peers.lead(ETAG, fill, peer);
  return { fill, peers, key: peer.key, closing };
}

describe('S3PeerParts: a leader answers for the parts of the fills it leads', () => {
  it('the right key gets exactly a landed part; a part not landed yet is waited for', async () => {
    const { fill, peers, key } = await leading();
    const signal = new AbortController().signal;
    const first = randomBytes(PART);
    const last = randomBytes(100);
    await fill.onPart(0, first);
    expect(await bytesOf(await peers.answer({ etag: ETAG, index: 0, key, signal }))).toEqual(first);
    // Asked before it lands: answered once it does (the long poll).
    const waiting = peers.answer({ etag: ETAG, index: 2, key, signal });
    await fill.onPart(2, last);
    const answer = await waiting;
    expect(answer).toMatchObject({ status: 200, length: 100 });
    expect(await bytesOf(answer)).toEqual(last);
  });

  it('a wrong or missing key is 403, another blob or a part past the end 404, nothing answered once the fill ends', async () => {
    const { fill, peers, key } = await leading();
    const signal = new AbortController().signal;
    await fill.onPart(0, randomBytes(PART));
    expect((await peers.answer({ etag: ETAG, index: 0, key: `${key}x`, signal })).status).toBe(403);
    expect((await peers.answer({ etag: ETAG, index: 0, key: undefined, signal })).status).toBe(403);
    expect((await peers.answer({ etag: 'cd'.repeat(32), index: 0, key, signal })).status).toBe(404);
    expect((await peers.answer({ etag: ETAG, index: 3, key, signal })).status).toBe(404);
    // A waiting request ends with the fill.
    const waiting = peers.answer({ etag: ETAG, index: 1, key, signal });
    fill.settle();
    expect((await waiting).status).toBe(404);
    expect((await peers.answer({ etag: ETAG, index: 0, key, signal })).status).toBe(404);
  });

  it('a part that does not land within the wait, or an asker that goes away, is 404 "not yet"', async () => {
    const { peers, key, fill } = await leading(50);
    expect(await peers.answer({ etag: ETAG, index: 1, key, signal: new AbortController().signal })).toMatchObject({ status: 404, message: 'Part not landed yet' });
    const gone = new AbortController();
    const waiting = peers.answer({ etag: ETAG, index: 1, key, signal: gone.signal });
    gone.abort();
    expect((await waiting).status).toBe(404);
    // No longer leading (lost the lease, or done): 404 whatever the key.
    peers.end(ETAG, fill);
    expect((await peers.answer({ etag: ETAG, index: 1, key, signal: new AbortController().signal })).status).toBe(404);
  });

  it('a part that already left memory (no transfer was behind it, so it was not spooled) is 404 at once: the asker reads the store', async () => {
    const { fill, peers, key } = await leading(10_000, 6 * PART);
    const signal = new AbortController().signal;
    // Four parts stay in memory: part 4 pushes part 0 out.
    for (const index of [0, 1, 2, 3, 4]) await fill.onPart(index, randomBytes(PART));
    // Not the long poll (whose end says 'Part not landed yet').
    expect(await peers.answer({ etag: ETAG, index: 0, key, signal })).toMatchObject({ status: 404, message: 'That part is no longer here: it is in the store' });
    expect((await peers.answer({ etag: ETAG, index: 1, key, signal })).status).toBe(200);
    fill.settle(new Error('stop'));
  });

  it('no advertised URL: leases name no peer', () => {
    const peers = new S3PeerParts({ advertiseUrl: () => undefined, signal: new AbortController().signal });
    expect(peers.offer()).toBeUndefined();
  });
});

describe('parsePeerPartPath', () => {
  const base = '/api/hubcache/peer/fills/';
  it('takes fills/<algo>/<content hash>/parts/<index> and nothing else', () => {
    expect(parsePeerPartPath(`${base}sha256/${ETAG}/parts/12`)).toEqual({ etag: ETAG, index: 12 });
    expect(parsePeerPartPath(`${base}sha1/${'a'.repeat(40)}/parts/0`)).toEqual({ etag: 'a'.repeat(40), index: 0 });
    for (const bad of [
      `${base}sha1/${ETAG}/parts/0`,
      `${base}sha256/${'a'.repeat(40)}/parts/0`,
      `${base}sha256/${ETAG.toUpperCase()}/parts/0`,
      `${base}sha256/..%2F..%2Fetc/parts/0`,
      `${base}sha256/${ETAG}%00/parts/0`,
      `${base}md5/${ETAG}/parts/0`,
      `${base}sha256/${ETAG}/parts/-1`,
      `${base}sha256/${ETAG}/parts/1e3`,
      `${base}sha256/${ETAG}/parts/9999999999`,
      `${base}sha256/${ETAG}/parts/`,
    ]) {
      expect(parsePeerPartPath(bad), bad).toMatchObject({ status: 400 });
    }
    for (const unknown of ['/api/hubcache/peer/', '/api/hubcache/peer/../../etc/passwd', `${base}sha256/${ETAG}/parts/0/x`, `${base}sha256/${ETAG}/blob/0`]) {
      expect(parsePeerPartPath(unknown), unknown).toMatchObject({ status: 404 });
    }
  });
});
