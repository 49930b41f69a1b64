/**
 * Small helpers shared by the download, RSS and verify benchmarks: hashing a
 * result, warming the page cache, a clean child environment, and rounds that
 * rotate the competitors' order.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { median, type ProcessRun } from './measure.js';

const CHUNK = 4 * 1024 * 1024;
/** Hash reads stay small enough for L2: 4 MiB reads make sha256 ~1.5x slower here (see BENCHMARKS.md). */
const HASH_READ = 64 * 1024;

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

/** sha256 of a file, streamed with 64 KiB reads. */
export async function sha256File(path: string): Promise<{ sha256: string; size: number }> {
  const handle = await open(path, 'r');
  try {
    const hash = createHash('sha256');
    const buffer = Buffer.allocUnsafe(HASH_READ);
    let size = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, HASH_READ, null);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
      size += bytesRead;
    }
    return { sha256: hash.digest('hex'), size };
  } finally {
    await handle.close();
  }
}

/** Reads files once so every competitor starts from the page cache. */
export async function warmPageCache(paths: string[]): Promise<void> {
  const buffer = Buffer.allocUnsafe(CHUNK);
  for (const path of paths) {
    const handle = await open(path, 'r');
    try {
      while ((await handle.read(buffer, 0, CHUNK, null)).bytesRead > 0);
    } finally {
      await handle.close();
    }
  }
}

/** The bench's own environment minus anything that could redirect or authenticate a Hub client. */
export function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    // NODE_EXTRA_CA_CERTS: this sandbox points it at the whole system CA bundle, which every Node
    // process then parses at start-up (50-90 ms here, against ~20 ms for a bare `node -e 0`). It is
    // a property of the machine, not of a tool, and plain-http loopback benches use no certificate.
    if (/^(HF_|HUGGINGFACE_|LLAMA_CACHE|XDG_CACHE_HOME|NODE_OPTIONS|NODE_EXTRA_CA_CERTS|http_proxy|https_proxy|HTTP_PROXY|HTTPS_PROXY|ALL_PROXY|all_proxy)/.test(key)) continue;
    env[key] = value;
  }
  return { ...env, HF_HUB_DISABLE_PROGRESS_BARS: '1', NO_PROXY: '*', no_proxy: '*', ...extra };
}

export interface Competitor<R extends ProcessRun = ProcessRun> {
  /** The timed part: one whole process. */
  run(round: number): Promise<R>;
  /** Untimed: check the result, clean up. Throws if the result is wrong. */
  after?(run: R, round: number): Promise<void>;
}

export interface RoundsResult<R extends ProcessRun = ProcessRun> {
  median: number;
  all: number[];
  runs: R[];
  last: R;
}

/**
 * Runs every competitor once per round, rotating who goes first each round and
 * reversing the order every other round, so neither a position nor the same
 * predecessor (whose clean-up shapes the page cache the next run finds)
 * favours one. `settle` runs before every timed run, untimed.
 * Round -1 (when `warmup`) is run but not counted.
 */
export async function rotatedRounds<R extends ProcessRun>(params: {
  rounds: number;
  warmup?: boolean;
  competitors: Record<string, Competitor<R>>;
  settle?: () => Promise<void>;
  log?: (line: string) => void;
}): Promise<Record<string, RoundsResult<R>>> {
  const names = Object.keys(params.competitors);
  const out: Record<string, RoundsResult<R>> = {};
  for (let round = params.warmup ? -1 : 0; round < params.rounds; round++) {
    const shift = ((round % names.length) + names.length) % names.length;
    const rotated = [...names.slice(shift), ...names.slice(0, shift)];
    const order = round % 2 === 0 ? rotated : rotated.reverse();
    const figures: string[] = [];
    for (const name of order) {
      const competitor = params.competitors[name] as Competitor<R>;
      await params.settle?.();
      const result = await competitor.run(round);
      if (result.code !== 0) throw new Error(`${name} failed (exit ${result.code}): ${result.stderr.slice(0, 2000)}`);
      await competitor.after?.(result, round);
      figures.push(`${name} ${result.seconds.toFixed(3)}s`);
      if (round < 0) continue;
      const entry = out[name] ?? { median: 0, all: [], runs: [], last: result };
      entry.all.push(result.seconds);
      entry.runs.push(result);
      entry.last = result;
      out[name] = entry;
    }
    params.log?.(`    ${round < 0 ? 'warm-up' : `round ${round + 1}/${params.rounds}`}: ${figures.join(', ')}`);
  }
  for (const entry of Object.values(out)) entry.median = median(entry.all);
  return out;
}

/** Decimal megabytes per second, as curl and most tools print them. */
export function mbPerSecond(bytes: number, seconds: number): number {
  return Math.round(bytes / seconds / 1e6);
}

export function spread(all: number[]): string {
  const sorted = [...all].sort((a, b) => a - b);
  return `min ${sorted[0]?.toFixed(3)} s, max ${sorted[sorted.length - 1]?.toFixed(3)} s over ${all.length}`;
}

/** "load average 1.2 0.9 0.7 at start, 3.1 2.0 1.1 at end on 2 cores": other work on the machine skews timings. */
export function loadNote(atStart: number[]): string {
  const f = (l: number[]): string => l.map((x) => x.toFixed(1)).join(' ');
  return `load average (1/5/15 min) ${f(atStart)} at start, ${f(loadavg())} at end, on ${cpus().length} cores`;
}

export function loadNow(): number[] {
  return loadavg();
}

/**
 * Writes dirty page-cache data back (untimed), so a timed run never shares the
 * disk with the write-back of what an earlier run left behind.
 */
export async function syncDisks(): Promise<void> {
  await new Promise<void>((resolve) => {
    const child = spawn('sync', [], { stdio: 'ignore' });
    child.on('close', () => resolve());
    child.on('error', () => resolve());
  });
}
