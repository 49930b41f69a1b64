/**
 * One replica's view of a blob being filled into the shared store (S3Fill), without a store: parts
 * handed to `onPart` as the driver does, readers of the fill as the routes use them. Live readers
 * are served from the parts kept in memory, readers further behind from the spool file, and the
 * caller's buffers may be reused once `onPart` resolves. The whole fill over a real Ceph RGW is in
 * s3Replicas.test.ts.
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { S3Fill } from '../../src/store/s3Fill.js';
import { makeTempDir } from '../helpers/tempDir.js';

const ETAG = 'cd'.repeat(32);
const PART = 4096;
/** More parts than the fill keeps in memory (4). */
const PARTS = 7;
const SIZE = PARTS * PART - 100;

async function filling(): Promise<{ fill: S3Fill; spools: string[] }> {
  const dir = await makeTempDir({ prefix: 'hubcache-s3fill-' });
  const spools: string[] = [];
  const fill = new S3Fill(
    { repo: 'models--acme--x', path: 'w.bin', etag: ETAG, size: SIZE },
    {
      final: () => {
        throw new Error('not used: every part is spooled');
      },
      spoolPath: async () => {
        spools.push(join(dir, `spool-${spools.length}`));
        return spools.at(-1)!;
      },
    },
  );
  fill.markStarted(PART);
  return { fill, spools };
}

/** Feeds every part through one reused buffer, overwritten with junk after each `onPart`. */
async function feed(fill: S3Fill, data: Buffer, parts: number[]): Promise<void> {
  const reused = Buffer.alloc(PART);
  for (const index of parts) {
    const part = data.subarray(index * PART, Math.min((index + 1) * PART, SIZE));
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

  it('reads parts still in memory from there and parts that left it from the spool', async () => {
    const { fill, spools } = await filling();
    const data = randomBytes(SIZE);
    await feed(fill, data, [0, 1, 2, 3]);
    // The spool's bytes are replaced by a marker: parts 0..3 are all in memory, so readers do not see it.
    const marker = Buffer.alloc(4 * PART, 0x5a);
    await writeFile(spools[0]!, marker);
    const early = Buffer.concat(await chunksOf(fill.reader().stream({ start: 0, end: 4 * PART })));
    expect(early.equals(data.subarray(0, 4 * PART))).toBe(true);
    // Part 4 pushes part 0 out of memory: its bytes now come from the spool (the marker).
    await feed(fill, data, [4]);
    const behind = Buffer.concat(await chunksOf(fill.reader().stream({ start: 0, end: PART })));
    expect(behind.equals(marker.subarray(0, PART))).toBe(true);
    const live = Buffer.concat(await chunksOf(fill.reader().stream({ start: PART, end: 5 * PART })));
    expect(live.equals(data.subarray(PART, 5 * PART))).toBe(true);
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
