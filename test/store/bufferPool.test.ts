/**
 * The pool behind a fill's in-memory parts: a buffer is reused only once its owner released it
 * and every slice lent out was given back, each slice once.
 */
import { describe, expect, it } from 'vitest';
import { BufferPool, returnLent } from '../../src/store/bufferPool.js';

describe('BufferPool', () => {
  it('reuses a buffer only when the owner and every lent slice are done with it', () => {
    const pool = new BufferPool({ maxFree: 2 });
    const first = pool.take(1000);
    expect(first.bytes.byteLength).toBe(1000);
    const a = first.lend(0, 10);
    const b = first.lend(10, 20);
    first.release();
    returnLent(a);
    // Given back twice: counts once, so `b` still holds the buffer.
    returnLent(a);
    expect(pool.take(1000).bytes.buffer).not.toBe(first.bytes.buffer);
    returnLent(b);
    const again = pool.take(900);
    expect(again.bytes.buffer).toBe(first.bytes.buffer);
    expect(again.bytes.byteLength).toBe(900);
  });

  it('ignores chunks that were not lent, and keeps at most maxFree buffers', () => {
    const pool = new BufferPool({ maxFree: 1 });
    returnLent(Buffer.alloc(10));
    returnLent('text');
    const one = pool.take(10);
    const two = pool.take(10);
    one.release();
    two.release();
    const reused = [pool.take(10), pool.take(10)].map((p) => p.bytes.buffer);
    expect(reused.filter((buffer) => buffer === one.bytes.buffer || buffer === two.bytes.buffer)).toHaveLength(1);
  });
});
