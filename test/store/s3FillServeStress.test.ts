/**
 * A hostile crowd against a fill's zero-copy serving: the last parts of an S3Fill live in pooled
 * buffers, readers and peers are lent slices of them, and a buffer is rewritten for a later part
 * once the socket gave every slice back (sendStream, from each write's callback). A slice given
 * back too early, or a buffer reused while a slice is still queued, sends a client bytes of a
 * later part. So a real fill (temp-dir spool, parts fed through one caller buffer overwritten with
 * junk after each `onPart`) is served by the real server (`listen`, `writeReply`, `sendStream`) on
 * 127.0.0.1 to many clients at once: fast, slow (paused long enough for writes to queue while the
 * window moves on), cut off mid-body (while paused, too), late (parts read back from the spool),
 * ranged, chunked, HEAD, keep-alive, pipelined, and peers reading parts (`spooledPart`). Every byte
 * a client receives is checked as it arrives: a completed client has exactly its range, a cut one
 * a correct prefix of it (a resuming client would keep it). Nothing may hang: every reader of the
 * fill ends and the spool is removed (this found the pipelined answer that never ended when its
 * client went away: listen.ts, closeQueuedResponse).
 */
import { randomBytes } from 'node:crypto';
import { access } from 'node:fs/promises';
import { Agent, request, type IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { App } from '../../src/server/createApp.js';
import { listen, type Listening } from '../../src/server/listen.js';
import { Metrics } from '../../src/server/metrics.js';
import type { Reply } from '../../src/server/reply.js';
import type { BlobReader } from '../../src/store/blobStore.js';
import type { BufferPool } from '../../src/store/bufferPool.js';
import { S3Fill } from '../../src/store/s3Fill.js';
import { makeTempDir } from '../helpers/tempDir.js';

const MiB = 1024 * 1024;
const ETAG = 'ef'.repeat(32);
/** A bound on every wait here: past it the test fails naming what did not end, instead of hanging. */
const BOUND_MS = 20_000;

/** Deterministic choices per seed (the bytes are random, the crowd's behaviour is reproducible). */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Stage {
  fill: S3Fill;
  data: Buffer;
  size: number;
  partSize: number;
  parts: number;
  url: string;
  port: number;
  spools: string[];
  /** Every stream the server read from the fill (client readers and peer parts). */
  streams: Readable[];
  /** Times the fill's pool handed out a buffer it had handed out before (the path under test). */
  reuses: () => number;
  /** Parts fed so far (the live edge). */
  fed: () => number;
  feeding: Promise<void>;
  listening: Listening;
  /** Each request's signal (aborted when the server closed its response), by the client's name. */
  signals: Map<string, AbortSignal>;
}

/** Clients not ended yet, named in the message of a hang. */
const pendingClients = new Set<string>();

const stages: Stage[] = [];
afterEach(async () => {
  for (const stage of stages.splice(0)) {
    if (stage.fill.state === 'running') stage.fill.settle(new Error('test over'));
    await stage.listening.close();
  }
});

/** The blob's bytes as a committed blob would serve them (only read once the spool is gone). */
function finalReader(data: Buffer): BlobReader {
  return {
    etag: ETAG,
    size: data.byteLength,
    cached: true,
    stream: ({ start, end }) => Readable.from([Buffer.from(data.subarray(start, end))], { objectMode: false }),
  };
}

async function stage(params: { seed: number; partSize: number; parts: number; paceMs: number; failAtPart?: number; idleTimeoutMs?: number; graceMs?: number }): Promise<Stage> {
  const { partSize, parts } = params;
  const dir = await makeTempDir({ prefix: 'hubcache-s3fill-stress-' });
  const size = parts * partSize - 12_345;
  const data = randomBytes(size);
  const spools: string[] = [];
  const fill = new S3Fill(
    { repo: 'models--acme--x', path: 'w.bin', etag: ETAG, size },
    {
      final: () => finalReader(data),
      spoolPath: async () => {
        spools.push(join(dir, `spool-${spools.length}`));
        return spools.at(-1)!;
      },
    },
  );
  // Counts reuse of the fill's pooled buffers, so the test knows it exercised the dangerous path.
  const pool = (fill as unknown as { pool: BufferPool }).pool;
  const take = pool.take.bind(pool);
  const seen = new WeakSet<ArrayBufferLike>();
  let reuses = 0;
  pool.take = (length) => {
    const taken = take(length);
    if (seen.has(taken.bytes.buffer)) reuses += 1;
    seen.add(taken.bytes.buffer);
    return taken;
  };
  fill.markStarted(partSize);
  const streams: Readable[] = [];
  const tracked = (stream: Readable): Readable => {
    streams.push(stream);
    return stream;
  };
  const signals = new Map<string, AbortSignal>();
  const reader: BlobReader = { ...fill.reader(), stream: (range) => tracked(fill.reader().stream(range)) };
  const app = {
    metrics: new Metrics(),
    context: {} as App['context'],
    async handle(req): Promise<Reply> {
      const name = req.headers['x-client'];
      if (name !== undefined) signals.set(name, req.signal);
      const blob = /^\/(blob|chunked)\/(\d+)-(\d+)$/.exec(req.rawUrl);
      if (blob) {
        const start = Number(blob[2]);
        const end = Number(blob[3]);
        // Chunked: no content-length, so each chunk's write carries framing around the lent slice.
        const headers: Record<string, string> = blob[1] === 'blob' ? { 'content-length': String(end - start) } : {};
        return { status: start === 0 && end === size ? 200 : 206, headers, body: { kind: 'blob', reader, start, end } };
      }
      const part = /^\/part\/(\d+)$/.exec(req.rawUrl);
      if (part) {
        const index = Number(part[1]);
        const stream = fill.spooledPart(index);
        if (stream === undefined) return { status: 404, headers: { 'content-length': '0' }, body: { kind: 'empty' } };
        const length = Math.min(partSize, size - index * partSize);
        return { status: 200, headers: { 'content-length': String(length) }, body: { kind: 'stream', stream: tracked(stream) } };
      }
      return { status: 404, headers: { 'content-length': '0' }, body: { kind: 'empty' } };
    },
  } satisfies App;
  const listening = await listen({ app, port: 0, graceMs: params.graceMs ?? 2_000, ...(params.idleTimeoutMs !== undefined ? { idleTimeoutMs: params.idleTimeoutMs } : {}) });
  let fed = 0;
  const feeding = (async () => {
    // One caller buffer for every part, overwritten with junk as soon as onPart resolves.
    const reused = Buffer.alloc(partSize);
    for (let index = 0; index < parts; index++) {
      if (index === params.failAtPart) {
        fill.settle(new Error('upstream sent other bytes'));
        return;
      }
      const part = data.subarray(index * partSize, Math.min((index + 1) * partSize, size));
      part.copy(reused);
      await fill.onPart(index, reused.subarray(0, part.byteLength));
      reused.fill(0xee);
      fed = index + 1;
      await sleep(params.paceMs);
    }
    fill.settle();
  })();
  const made: Stage = {
    fill,
    data,
    size,
    partSize,
    parts,
    url: listening.url,
    port: Number(new URL(listening.url).port),
    spools,
    streams,
    reuses: () => reuses,
    fed: () => fed,
    feeding,
    listening,
    signals,
  };
  stages.push(made);
  return made;
}

/** What one client saw: bytes checked as they arrived against what it asked for. */
interface Seen {
  name: string;
  expected: number;
  got: number;
  status?: number;
  completed: boolean;
  /** The first wrong byte, with where the bytes received there really come from (a later part?). */
  wrong?: string;
}

/** Checks each chunk as it arrives against `expected` from `seen.got` on. */
function check(stage: Stage, seen: Seen, expected: Buffer, chunk: Buffer, rangeStart: number): void {
  if (seen.wrong !== undefined) return;
  const want = expected.subarray(seen.got, seen.got + chunk.byteLength);
  if (chunk.byteLength > want.byteLength || !chunk.equals(want)) {
    let at = 0;
    while (at < want.byteLength && chunk[at] === want[at]) at++;
    const offset = rangeStart + seen.got + at;
    const probe = chunk.subarray(at, at + 64);
    const found = probe.byteLength === 64 ? stage.data.indexOf(probe) : -1;
    const from = found >= 0 ? `bytes of part ${Math.floor(found / stage.partSize)} (blob offset ${found})` : probe.every((b) => b === 0xee) ? 'the feeder junk' : 'unknown bytes';
    seen.wrong = `blob offset ${offset} (part ${Math.floor(offset / stage.partSize)}) got ${from}${chunk.byteLength > want.byteLength ? ', past the end' : ''}`;
  }
  seen.got += chunk.byteLength;
}

interface Plan {
  path: string;
  start: number;
  end: number;
  method?: 'GET' | 'HEAD';
  /** Pause reading after these byte counts, for pauseMs each. */
  pauses?: Array<{ at: number; ms: number }>;
  /** Destroy the request after this many bytes (after the pause at that point, when one is there). */
  abortAt?: number;
  how?: 'req' | 'socket';
  /** Gone this long after sending the request, whatever arrived (before the answer, often). */
  abortAfterMs?: number;
  /** Stop reading for good after this many bytes (only the server can end this one). */
  stallAt?: number;
  agent?: Agent;
}

/** One HTTP client with its behaviour; resolves when the response ended or was cut (never hangs past BOUND_MS). */
function client(stage: Stage, name: string, plan: Plan): Promise<Seen> {
  const expected = stage.data.subarray(plan.start, plan.end);
  const seen: Seen = { name, expected: plan.method === 'HEAD' ? 0 : plan.end - plan.start, got: 0, completed: false };
  pendingClients.add(name);
  return new Promise<Seen>((resolve) => {
    const done = (): void => {
      pendingClients.delete(name);
      resolve(seen);
    };
    const headers = { 'x-client': name };
    const req = request(`${stage.url}${plan.path}`, { method: plan.method ?? 'GET', agent: plan.agent ?? false, headers }, (res: IncomingMessage) => {
      seen.status = res.statusCode;
      // A peer's part not (or no longer) there: no body.
      if (res.statusCode === 404) seen.expected = 0;
      const pauses = [...(plan.pauses ?? [])].sort((a, b) => a.at - b.at);
      let cut = false;
      res.on('data', (chunk: Buffer) => {
        if (cut) return;
        check(stage, seen, expected, chunk, plan.start);
        if (plan.stallAt !== undefined && seen.got >= plan.stallAt) {
          // A paused socket never reads the server's FIN: the server's side says when it cut this one.
          cut = true;
          res.pause();
          const signal = stage.signals.get(name)!;
          const gone = (): void => {
            req.destroy();
            done();
          };
          if (signal.aborted) gone();
          else signal.addEventListener('abort', gone, { once: true });
          return;
        }
        const pause = pauses[0];
        if (pause !== undefined && seen.got >= pause.at) {
          pauses.shift();
          res.pause();
          setTimeout(() => {
            if (plan.abortAt !== undefined && seen.got >= plan.abortAt) {
              // Gone while the response is paused: its writes are queued and drain never comes.
              cut = true;
              if (plan.how === 'socket') req.socket?.destroy();
              else req.destroy();
              done();
              return;
            }
            res.resume();
          }, pause.ms);
          return;
        }
        if (plan.abortAt !== undefined && seen.got >= plan.abortAt) {
          cut = true;
          if (plan.how === 'socket') req.socket?.destroy();
          else req.destroy();
          done();
        }
      });
      res.once('end', () => {
        seen.completed = res.complete;
        done();
      });
      res.once('error', done);
      res.once('close', done);
    });
    req.on('error', done);
    req.end();
    if (plan.abortAfterMs !== undefined) {
      setTimeout(() => {
        req.destroy();
        done();
      }, plan.abortAfterMs);
    }
  });
}

/** Two requests written at once on one connection (HTTP/1.1 pipelining), answers parsed by hand. */
function pipelined(stage: Stage, name: string, ranges: Array<{ start: number; end: number }>, pauseMs: number, halfClose = false, destroyAt?: number): Promise<Seen[]> {
  const seens: Seen[] = ranges.map((range, i) => ({ name: `${name}#${i}`, expected: range.end - range.start, got: 0, completed: false }));
  pendingClients.add(name);
  return new Promise<Seen[]>((resolve) => {
    const socket = connect(stage.port, '127.0.0.1');
    socket.write(ranges.map((r) => `GET /blob/${r.start}-${r.end} HTTP/1.1\r\nHost: x\r\n\r\n`).join(''));
    // Half-closed: the client says it sends nothing more, and keeps reading.
    if (halfClose) socket.end();
    let pending: Buffer = Buffer.alloc(0);
    let current = 0;
    let inBody = false;
    let paused = false;
    socket.on('data', (data: Buffer) => {
      pending = pending.byteLength === 0 ? data : Buffer.concat([pending, data]);
      while (current < ranges.length) {
        const seen = seens[current]!;
        const range = ranges[current]!;
        if (!inBody) {
          const headEnd = pending.indexOf('\r\n\r\n');
          if (headEnd < 0) return;
          seen.status = Number(/^HTTP\/1\.1 (\d+)/.exec(pending.subarray(0, headEnd).toString('latin1'))?.[1]);
          pending = pending.subarray(headEnd + 4);
          inBody = true;
        }
        const take = pending.subarray(0, seen.expected - seen.got);
        if (take.byteLength > 0) check(stage, seen, stage.data.subarray(range.start, range.end), take, range.start);
        if (destroyAt !== undefined && seen.got >= destroyAt) {
          // Gone in the first answer: the second, queued behind it, never got the socket.
          socket.destroy();
          return;
        }
        pending = pending.subarray(take.byteLength);
        if (seen.got < seen.expected) break;
        seen.completed = true;
        inBody = false;
        current += 1;
      }
      if (current === ranges.length) {
        socket.end();
        return;
      }
      if (!paused && seens[current]!.got > 0) {
        // One long pause in the first body: the second answer's writes wait behind it.
        paused = true;
        socket.pause();
        setTimeout(() => socket.resume(), pauseMs);
      }
    });
    socket.on('error', () => undefined);
    socket.once('close', () => {
      pendingClients.delete(name);
      resolve(seens);
    });
  });
}

/** Resolves with `work`'s value, or fails naming `what` once BOUND_MS passed. */
async function bounded<T>(what: string, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`hung: ${what} (clients not ended: ${[...pendingClients].join(', ') || 'none'})`)), BOUND_MS);
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Every reader of the fill ended (its stream closed) and the spool is gone: nothing holds the fill. */
async function settledCleanly(stage: Stage): Promise<void> {
  await bounded('the fill feeder', stage.feeding);
  await bounded(
    'the fill readers and the spool',
    (async () => {
      for (;;) {
        const open = stage.streams.filter((stream) => !stream.closed && !stream.destroyed).length;
        const spoolLeft = await Promise.all(stage.spools.map((path) => access(path).then(() => true, () => false)));
        if (open === 0 && !spoolLeft.includes(true)) return;
        await sleep(20);
      }
    })(),
  );
}

/** A crowd of clients with seeded behaviours against one fill. */
function crowd(stage: Stage, seed: number, count: number): Array<Promise<Seen | Seen[]>> {
  const random = prng(seed);
  const pick = (n: number): number => Math.floor(random() * n);
  const { size, partSize } = stage;
  const clients: Array<Promise<Seen | Seen[]>> = [];
  const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });
  for (let i = 0; i < count; i++) {
    const kind = i % 10;
    const delay = kind === 3 || kind === 8 ? 150 + pick(600) : pick(40);
    const start = kind === 4 || kind === 9 ? pick(size - 1) : 0;
    const end = kind === 4 || kind === 9 ? start + 1 + pick(size - start) : size;
    const pauses = Array.from({ length: kind === 1 || kind === 6 ? 2 + pick(3) : kind === 2 ? 1 : 0 }, () => ({
      at: pick(end - start),
      ms: 150 + pick(500),
    }));
    const name = `client ${i} (kind ${kind}, seed ${seed})`;
    clients.push(
      sleep(delay).then(async (): Promise<Seen | Seen[]> => {
        switch (kind) {
          case 0:
          case 4:
            return client(stage, name, { path: `/blob/${start}-${end}`, start, end });
          case 1:
          case 6:
            // Slow: long pauses with writes queued behind the paused socket.
            return client(stage, name, { path: `/blob/${start}-${end}`, start, end, pauses });
          case 2: {
            // Gone while paused, by closing the request or the bare socket.
            const at = pauses[0]!.at;
            return client(stage, name, { path: `/blob/${start}-${end}`, start, end, pauses, abortAt: at, how: i % 4 === 0 ? 'socket' : 'req' });
          }
          case 5:
            // Gone right after asking (before or just after the answer started).
            if (i % 3 === 2) return client(stage, name, { path: `/blob/${start}-${end}`, start, end, abortAfterMs: pick(5) });
            // Gone at a random point while reading.
            return client(stage, name, { path: `/blob/${start}-${end}`, start, end, abortAt: pick(end - start), how: i % 3 === 0 ? 'socket' : 'req' });
          case 3:
          case 9:
            // Late (parts left memory: they come from the spool), ranged or not, with one pause.
            return client(stage, name, { path: `/blob/${start}-${end}`, start, end, pauses: [{ at: pick(end - start), ms: 200 }] });
          case 7: {
            // A peer: one part, asked for again until it landed, sometimes read slowly.
            const index = Math.min(stage.parts - 1, stage.fed() + pick(3));
            for (;;) {
              const partStart = index * partSize;
              const partEnd = Math.min(partStart + partSize, size);
              const seen = await client(stage, `${name} part ${index}`, {
                path: `/part/${index}`,
                start: partStart,
                end: partEnd,
                pauses: i % 2 === 0 ? [{ at: pick(partEnd - partStart), ms: 300 }] : [],
              });
              if (seen.status !== 404 || stage.fill.state !== 'running') return seen;
              await sleep(10);
            }
          }
          default: {
            // Keep-alive: HEAD, then a chunked ranged GET, then a plain GET, on one connection.
            const head = await client(stage, `${name} HEAD`, { path: `/blob/0-${size}`, start: 0, end: size, method: 'HEAD', agent: keepAlive });
            // A HEAD of a peer's part: the part's stream is made, then dropped unread.
            const index = Math.max(0, stage.fed() - 1);
            const partHead = await client(stage, `${name} HEAD part`, { path: `/part/${index}`, start: 0, end: 0, method: 'HEAD', agent: keepAlive });
            const chunked = await client(stage, `${name} chunked`, { path: `/chunked/${start}-${end}`, start, end, agent: keepAlive, pauses: [{ at: pick(end - start), ms: 250 }] });
            const again = await client(stage, `${name} again`, { path: `/blob/${start}-${end}`, start, end, agent: keepAlive });
            const piped = await pipelined(stage, `${name} pipelined`, [{ start, end: Math.min(end, start + 3 * partSize) }, { start: 0, end: size }], 400);
            return [head, partHead, chunked, again, ...piped];
          }
        }
      }),
    );
  }
  void Promise.allSettled(clients).then(() => keepAlive.destroy());
  return clients;
}

function verdicts(results: Array<Seen | Seen[]>): Seen[] {
  return results.flat();
}

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
