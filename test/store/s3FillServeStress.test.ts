/**
 * A hostile crowd against a fill's zero-copy serving: the last parts of an S3Fill live in pooled
 * buffers, readers and peers are lent slices of them, and a buffer is rewritten for a later part
 * once the socket gave every slice back (sendStream, from each write's callback). A slice given
 * back too early, or a buffer reused while a slice is still queued, sends a client bytes of a
 * later part. So a real fill (temp-dir spool, parts fed through one caller buffer overwritten with
 * junk after each `onPart`) is served by the real server (`listen`, `writeReply`, `sendStream`) on
 * 127.0.0.1 to many clients at once: fast, slow (paused long enough for writes to queue while the
 * window moves on), cut off mid-body (while paused, too), late (parts read back from the spool or the store),
 * ranged, chunked, HEAD, keep-alive, pipelined, and peers reading parts (`localPart`). Every byte
 * a client receives is checked as it arrives: a completed client has exactly its range, a cut one
 * a correct prefix of it (a resuming client would keep it). Nothing may hang: every reader of the
 * fill ends and the spool is removed (this found the pipelined answer that never ended when its
 * client went away: listen.ts, closeQueuedResponse). The stage and the crowd are in test/helpers
 * (fillStage, fillCrowd).
 */
import { describe, expect, it } from 'vitest';
import { client, crowd, pipelined, verdicts, type Seen } from '../helpers/fillCrowd.js';
import { bounded, MiB, prng, settledCleanly, sleep, stage } from '../helpers/fillStage.js';

describe('S3Fill served zero-copy to a hostile crowd', () => {
  it('gives every client exactly its bytes (or a correct prefix when cut) while the window moves under slow, cut and late clients', async () => {
    let reuses = 0;
    for (const [round, shape] of [
      { seed: 11, partSize: 1 * MiB + 4096, parts: 24, paceMs: 25 },
      { seed: 23, partSize: 2 * MiB, parts: 14, paceMs: 40 },
    ].entries()) {
      const fill = await stage(shape);
      const results = verdicts(await bounded(`round ${round}: the clients`, Promise.all(crowd(fill, shape.seed, 30))));
      await settledCleanly(fill);
      const wrong = results.filter((seen) => seen.wrong !== undefined).map((seen) => `${seen.name}: ${seen.wrong}`);
      expect(wrong).toEqual([]);
      // Whoever did not cut itself off got its whole range (the fill verified).
      const cut = results.filter((seen) => !seen.completed || seen.got !== seen.expected).map((seen) => seen.name);
      expect(cut.filter((name) => !/kind [25]/.test(name))).toEqual([]);
      reuses += fill.reuses();
    }
    // Buffers were rewritten for later parts while the crowd read: the path under test ran.
    expect(reuses).toBeGreaterThan(0);
  }, 60_000);

  it('cuts every client of a failed fill after a correct prefix, with slices still in flight, and nothing hangs', async () => {
    const shape = { seed: 37, partSize: 1 * MiB + 512, parts: 30, paceMs: 25, failAtPart: 17 };
    const fill = await stage(shape);
    const results = verdicts(await bounded('the clients of a failed fill', Promise.all(crowd(fill, shape.seed, 30))));
    await settledCleanly(fill);
    expect(results.filter((seen) => seen.wrong !== undefined).map((seen) => `${seen.name}: ${seen.wrong}`)).toEqual([]);
    // The held-back last byte: no client of the whole blob completed it.
    const whole = results.filter((seen) => seen.expected === fill.size && seen.completed);
    expect(whole.map((seen) => seen.name)).toEqual([]);
  }, 60_000);

  it('cuts a client that stops reading for good at the idle timeout, and one cut by a server shutdown, each after a correct prefix', async () => {
    const shape = { seed: 41, partSize: 1 * MiB, parts: 24, paceMs: 30, idleTimeoutMs: 700, graceMs: 300 };
    const fill = await stage(shape);
    const random = prng(shape.seed);
    const clients: Array<Promise<Seen>> = [];
    for (let i = 0; i < 16; i++) {
      const name = `client ${i}`;
      const end = fill.size;
      if (i % 4 === 0) clients.push(client(fill, `${name} stalled`, { path: `/blob/0-${end}`, start: 0, end, stallAt: Math.floor(random() * 6 * MiB) }));
      // Pauses shorter than the idle timeout: never cut by it.
      else clients.push(client(fill, name, { path: `/blob/0-${end}`, start: 0, end, pauses: [{ at: Math.floor(random() * end), ms: 300 }] }));
    }
    const halfClosed = Array.from({ length: 3 }, (_, i) => pipelined(fill, `half-closed ${i}`, [{ start: i * MiB, end: fill.size }], 200, true));
    const seen = await bounded('the clients and the stalled ones', Promise.all(clients));
    // node:http ends a response whose client half-closed (no httpAllowHalfOpen): a prefix, never wrong bytes.
    const half = (await bounded('the half-closed clients', Promise.all(halfClosed))).flat();
    expect(half.filter((one) => one.wrong !== undefined).map((one) => `${one.name}: ${one.wrong}`)).toEqual([]);
    expect(seen.filter((one) => one.wrong !== undefined).map((one) => `${one.name}: ${one.wrong}`)).toEqual([]);
    expect(seen.filter((one) => /stalled/.test(one.name) === (one.completed && one.got === one.expected)).map((one) => one.name)).toEqual([]);
    await settledCleanly(fill);

    // The server shuts down under slow readers of a fill still running: cut after the grace period.
    const second = await stage({ ...shape, seed: 43, paceMs: 60 });
    const readers = Array.from({ length: 8 }, (_, i) =>
      client(second, `reader ${i}`, { path: `/blob/0-${second.size}`, start: 0, end: second.size, pauses: [{ at: i * 256 * 1024, ms: 400 }] }),
    );
    await sleep(400);
    await bounded('the server shutdown', second.listening.close());
    const cut = await bounded('the readers cut by the shutdown', Promise.all(readers));
    expect(cut.filter((one) => one.wrong !== undefined).map((one) => `${one.name}: ${one.wrong}`)).toEqual([]);
    // The fill cannot be verified before its last part (24 x 60 ms), so the shutdown cut them all.
    expect(cut.filter((one) => one.completed).map((one) => one.name)).toEqual([]);
    await settledCleanly(second);
  }, 60_000);

  it('ends answers queued behind a pipelined one when the client goes away', async () => {
    const fill = await stage({ seed: 47, partSize: 1 * MiB, parts: 12, paceMs: 20 });
    const size = fill.size;
    const gone = Array.from({ length: 4 }, (_, i) => pipelined(fill, `pipelined ${i}`, [{ start: 0, end: size }, { start: 0, end: size }, { start: MiB, end: size }], 300, false, (i + 1) * 512 * 1024));
    const seen = (await bounded('the pipelining clients', Promise.all(gone))).flat();
    expect(seen.filter((one) => one.wrong !== undefined).map((one) => `${one.name}: ${one.wrong}`)).toEqual([]);
    await settledCleanly(fill);
  }, 60_000);
});
