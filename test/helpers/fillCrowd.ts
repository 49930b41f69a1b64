/**
 * The crowd of the hostile-crowd test (test/store/s3FillServeStress.test.ts): HTTP clients with
 * seeded behaviours (fast, slow, cut off, late, ranged, chunked, HEAD, keep-alive, pipelined, peers
 * reading parts), each checking every byte as it arrives against what it asked for.
 */
import { Agent, request, type IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import { BOUND_MS, MiB, pendingClients, prng, sleep, type Stage } from './fillStage.js';

/** What one client saw: bytes checked as they arrived against what it asked for. */
export interface Seen {
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
export function client(stage: Stage, name: string, plan: Plan): Promise<Seen> {
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
export function pipelined(stage: Stage, name: string, ranges: Array<{ start: number; end: number }>, pauseMs: number, halfClose = false, destroyAt?: number): Promise<Seen[]> {
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


/** A crowd of clients with seeded behaviours against one fill. */
export function crowd(stage: Stage, seed: number, count: number): Array<Promise<Seen | Seen[]>> {
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

export function verdicts(results: Array<Seen | Seen[]>): Seen[] {
  return results.flat();
}

