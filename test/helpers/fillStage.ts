/**
 * The stage for the hostile-crowd test of a fill's zero-copy serving (test/store/
 * s3FillServeStress.test.ts): a real S3Fill (temp-dir spool, random bytes per part, fed through one
 * caller buffer overwritten with junk after each `onPart`) served by the real server (`listen`,
 * `writeReply`, `sendStream`) on 127.0.0.1, with the waits bounded so a hang fails naming what did
 * not end. Stages are closed after each test.
 */
import { randomBytes } from 'node:crypto';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach } from 'vitest';
import type { App } from '../../src/server/createApp.js';
import { listen, type Listening } from '../../src/server/listen.js';
import { Metrics } from '../../src/server/metrics.js';
import type { Reply } from '../../src/server/reply.js';
import type { BlobReader } from '../../src/store/blobStore.js';
import type { BufferPool } from '../../src/store/bufferPool.js';
import { S3Fill } from '../../src/store/s3Fill.js';
import { makeTempDir } from './tempDir.js';

export const MiB = 1024 * 1024;
const ETAG = 'ef'.repeat(32);
/** A bound on every wait here: past it the test fails naming what did not end, instead of hanging. */
export const BOUND_MS = 20_000;

/** Deterministic choices per seed (the bytes are random, the crowd's behaviour is reproducible). */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export interface Stage {
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
export const pendingClients = new Set<string>();

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

export async function stage(params: { seed: number; partSize: number; parts: number; paceMs: number; failAtPart?: number; idleTimeoutMs?: number; graceMs?: number }): Promise<Stage> {
  const { partSize, parts } = params;
  const dir = await makeTempDir({ prefix: 'hubcache-s3fill-stress-' });
  const size = parts * partSize - 12_345;
  const data = randomBytes(size);
  const spools: string[] = [];
  const fill = new S3Fill(
    { repo: 'models--acme--x', path: 'w.bin', etag: ETAG, size },
    {
      final: () => finalReader(data),
      // The store's part objects, for readers that come to a part after it left memory unspooled.
      storedPart: async ({ index, start, end }) => Readable.from([Buffer.from(data.subarray(index * partSize + start, index * partSize + end))]),
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
        const stream = fill.localPart(index);
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


/** Resolves with `work`'s value, or fails naming `what` once BOUND_MS passed. */
export async function bounded<T>(what: string, work: Promise<T>): Promise<T> {
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
export async function settledCleanly(stage: Stage): Promise<void> {
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
