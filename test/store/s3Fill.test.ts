/**
 * One replica's view of a blob being filled into the shared store (S3Fill), without a store: parts
 * handed to `onPart` as the driver does, readers of the fill as the routes use them. Live readers
 * are served from the parts kept in memory; a part leaving memory is spooled only while a reader is
 * behind it, and a reader that comes later reads it from the store; the caller's buffers may be
 * reused once `onPart` resolves. The whole fill over a real Ceph RGW is in
 * s3Replicas.test.ts.
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { returnLent } from '../../src/store/bufferPool.js';
import { S3Fill } from '../../src/store/s3Fill.js';
import { makeTempDir } from '../helpers/tempDir.js';

const ETAG = 'cd'.repeat(32);
const PART = 4096;
/** More parts than the fill keeps in memory (4). */
const PARTS = 7;
const SIZE = PARTS * PART - 100;

async function filling(params: { stored?: Buffer; part?: number; size?: number } = {}): Promise<{ fill: S3Fill; spools: string[]; storeReads: string[] }> {
  const part = params.part ?? PART;
  const dir = await makeTempDir({ prefix: 'hubcache-s3fill-' });
  const spools: string[] = [];
  const storeReads: string[] = [];
  const fill = new S3Fill(
    { repo: 'models--acme--x', path: 'w.bin', etag: ETAG, size: params.size ?? SIZE },
    {
      final: () => {
        throw new Error('not used: the fill is never verified while readers need the blob');
      },
      // The store's part objects (`stored`, the blob's bytes), each read logged.
      storedPart: async ({ index, start, end }) => {
        storeReads.push(`${index}:${start}-${end}`);
        if (params.stored === undefined) throw new Error('not used: no reader comes late');
        return Readable.from([params.stored.subarray(index * part + start, index * part + end)]);
      },
      spoolPath: async () => {
        spools.push(join(dir, `spool-${spools.length}`));
        return spools.at(-1)!;
      },
    },
  );
  fill.markStarted(part);
  return { fill, spools, storeReads };
}

/** Feeds every part through one reused buffer, overwritten with junk after each `onPart`. */
async function feed(fill: S3Fill, data: Buffer, parts: number[], size = PART): Promise<void> {
  const reused = Buffer.alloc(size);
  for (const index of parts) {
    const part = data.subarray(index * size, Math.min((index + 1) * size, data.byteLength));
    part.copy(reused);
    await fill.onPart(index, reused.subarray(0, part.byteLength));
    reused.fill(0xee);
  }
}

/** Reads a stream to its end, keeping the chunks as handed out (no copy). */
async function chunksOf(stream: Readable): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return chunks;
}

describe('S3Fill', () => {
  it('serves live readers the right bytes, holds the last byte back until verified, and chunks handed out stay right as the window moves', async () => {
    const { fill } = await filling();
    const data = randomBytes(SIZE);
    const reading = chunksOf(fill.reader().stream({ start: 0, end: SIZE }));
    const ranged = chunksOf(fill.reader().stream({ start: PART - 10, end: 3 * PART + 10 }));
    await feed(fill, data, [0, 1, 2, 3, 4, 5, 6]);
    let settled = false;
    void reading.then(() => (settled = true));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(settled).toBe(false);
    fill.settle();
    const chunks = await reading;
    // Compared only now, after later parts replaced earlier ones in memory and the feeding buffer was overwritten.
    expect(Buffer.concat(chunks).equals(data)).toBe(true);
    expect(Buffer.concat(await ranged).equals(data.subarray(PART - 10, 3 * PART + 10))).toBe(true);
  });

  it('spools a part leaving memory only while a reader is behind it; a reader that comes later reads the store', async () => {
    // Parts larger than a stream's read-ahead (64 KiB at most), so a reader nobody consumes stops after one part.
    const big = 256 * 1024;
    const data = randomBytes(7 * big - 100);
    const { fill, spools, storeReads } = await filling({ stored: data, part: big, size: data.byteLength });
    await feed(fill, data, [0, 1, 2, 3], big);
    // A reader whose consumer waits: its stream took part 0 and stops before part 1 (as a socket's backpressure stops it).
    const slow = fill.reader().stream({ start: 0, end: 2 * big });
    slow.pause();
    await new Promise((resolve) => slow.once('readable', resolve));
    // Part 4 pushes part 0 out of memory: nobody is behind its end, so it is not spooled.
    await feed(fill, data, [4], big);
    expect(spools).toEqual([]);
    // Part 5 pushes part 1 out: the slow reader is behind it, so it goes to the spool first.
    await feed(fill, data, [5], big);
    expect(spools).toHaveLength(1);
    // The spool's bytes are replaced by a marker: the slow reader now gets part 1 from there.
    const marker = Buffer.alloc(2 * big, 0x5a);
    await writeFile(spools[0]!, marker);
    const slowBytes = Buffer.concat(await chunksOf(slow));
    expect(slowBytes.equals(Buffer.concat([data.subarray(0, big), marker.subarray(big, 2 * big)]))).toBe(true);
    expect(storeReads).toEqual([]);
    // A reader that starts now reads part 0 (landed, gone from memory, never spooled) from the store,
    // part 1 from the spool and parts 2.. from memory.
    const late = Buffer.concat(await chunksOf(fill.reader().stream({ start: 10, end: 4 * big })));
    expect(storeReads).toEqual([`0:10-${big}`]);
    expect(late.equals(Buffer.concat([data.subarray(10, big), marker.subarray(big, 2 * big), data.subarray(2 * big, 4 * big)]))).toBe(true);
    // A peer asking for a part gets it only while it is here.
    expect(fill.localPart(0)).toBeUndefined();
    expect(Buffer.concat(await chunksOf(fill.localPart(5)!)).equals(data.subarray(5 * big, 6 * big))).toBe(true);
    fill.settle(new Error('stop'));
  });

  it('a fill failing while a part is being spooled on its way out of memory never hands that part\'s buffer on while a slice of it is lent', async () => {
    // Parts over two memory chunks (4 MiB), so a reader nobody consumes stays inside its first part.
    const big = 9 * 1024 * 1024;
    const data = randomBytes(5 * big);
    const { fill } = await filling({ part: big, size: data.byteLength });
    await feed(fill, data, [0, 1, 2, 3], big);
    // A slow client in part 0: its socket gave the first chunk back, the second (bytes 4-8 MiB) is
    // still queued; it is behind part 0's end, so part 0 is spooled when it leaves memory.
    const slow = fill.reader().stream({ start: 0, end: data.byteLength });
    slow.on('error', () => undefined);
    slow.pause();
    await new Promise((resolve) => slow.once('readable', resolve));
    returnLent(slow.read());
    // Clients in parts 1-3 each have a slice of theirs queued too.
    const others = [1, 2, 3].map((index) => fill.reader().stream({ start: index * big, end: data.byteLength }));
    for (const other of others) {
      other.on('error', () => undefined);
      other.pause();
      await new Promise((resolve) => other.once('readable', resolve));
    }
    // Part 4 arrives (part 0 starts going to the spool) and the fill fails meanwhile (its upload failed).
    const landing = fill.onPart(4, Buffer.from(data.subarray(4 * big)));
    fill.settle(new Error('a part PUT failed'));
    await landing;
    const queued = slow.read() as Buffer;
    expect(queued.byteLength).toBe(4 * 1024 * 1024);
    expect(queued.equals(data.subarray(4 * 1024 * 1024, 8 * 1024 * 1024))).toBe(true);
    for (const stream of [slow, ...others]) stream.destroy();
  });

  it("a peer's transfer of a part that leaves memory before its stream is first read gets the part from the store, not a cut transfer", async () => {
    const data = randomBytes(SIZE);
    const { fill, storeReads } = await filling({ stored: data });
    await feed(fill, data, [0, 1, 2, 3]);
    // The leader answered 200 for part 0; the response has not started reading it yet when part 4
    // lands and pushes part 0 out of memory (no transfer was tracked behind it, so it was not spooled).
    const transfer = fill.localPart(0)!;
    await feed(fill, data, [4]);
    expect(Buffer.concat(await chunksOf(transfer)).equals(data.subarray(0, PART))).toBe(true);
    expect(storeReads).toEqual([`0:0-${PART}`]);
    fill.settle(new Error('stop'));
  });

  it('ends readers with the error of a failed fill', async () => {
    const { fill } = await filling();
    const data = randomBytes(SIZE);
    const reading = chunksOf(fill.reader().stream({ start: 0, end: SIZE }));
    await feed(fill, data, [0, 1]);
    fill.settle(new Error('upstream sent other bytes'));
    await expect(reading).rejects.toThrow(/upstream sent other bytes/);
  });
});
