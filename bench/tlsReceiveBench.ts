/**
 * How to receive an https body (issue 15): the options measured on the same
 * bytes, one 1 GiB file from nginx over TLS 1.3 on loopback, each run a fresh
 * process doing only transferBlob (one stream, sha256 verified, written to disk):
 *   - node:    node:https, its stream's 16 KiB Buffers copied into the ring's slots (before issue 15)
 *   - raw:     the raw reader on tls.connect: each TLS record decrypted straight into a slot (kept)
 *   - raw-worker: the same, with the whole transfer (socket, TLS, ring) on a worker thread
 *   - raw over http, for reference: the kernel reads into the slots, no TLS
 * Reported per option: wall time, CPU time of the process (user+sys, every
 * thread) and of its main thread, medians over interleaved rounds. CPU time is
 * what to compare on a busy machine; wall time needs a quiet one.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Bench, BenchMeasurement } from './types.js';
import { median, timeProcess } from './measure.js';
import { withTlsBigFile } from './bigFileServer.js';
import { childEnv, loadNote, syncDisks } from './benchFiles.js';

const CHILD = fileURLToPath(new URL('./tlsReceiveChild.mjs', import.meta.url));

interface ChildRun {
  option: string;
  ok: boolean;
  seconds: number;
  cpuSeconds: number;
  userSeconds: number;
  mainThreadSeconds: number;
}

async function runChild(params: { args: string[]; env: NodeJS.ProcessEnv }): Promise<ChildRun> {
  const { code, stdout, stderr } = await timeProcess({ command: process.execPath, args: [CHILD, ...params.args], env: params.env });
  const line = stdout.trim().split('\n').pop() ?? '';
  if (code !== 0 || !line.startsWith('{')) throw new Error(`tlsReceiveChild ${params.args[0]} failed (exit ${code}): ${stderr.slice(0, 2000)}`);
  return JSON.parse(line) as ChildRun;
}

const bench: Bench = {
  name: 'tls-receive',
  description: 'receiving a 1 GiB https body: node:https vs the raw reader on TLS (main thread) vs the same on a worker; CPU time of the process and of its main thread',
  run({ workDir, quick }) {
    return withTlsBigFile({ bench: 'tls-receive', description: this.description, workDir, quick, measure: async ({ server, tls, size, rounds, sha256, loadAtStart, log }) => {
      const env = childEnv({ NODE_EXTRA_CA_CERTS: tls.caFile });
      const options: Record<string, { option: string; url: string }> = {
        'https node:https': { option: 'node', url: tls.cdnUrlOf(sha256) },
        'https raw reader': { option: 'raw', url: tls.cdnUrlOf(sha256) },
        'https raw reader on a worker': { option: 'raw-worker', url: tls.cdnUrlOf(sha256) },
        'http raw reader': { option: 'raw', url: server.cdnUrlOf(sha256) },
      };
      const names = Object.keys(options);
      const runs: Record<string, ChildRun[]> = Object.fromEntries(names.map((name) => [name, []]));
      for (let round = 0; round < rounds; round++) {
        // Rotate who goes first, and reverse every other round.
        const rotated = [...names.slice(round % names.length), ...names.slice(0, round % names.length)];
        const order = round % 2 === 0 ? rotated : rotated.reverse();
        const figures: string[] = [];
        for (const name of order) {
          const { option, url } = options[name] as { option: string; url: string };
          const dir = join(workDir, 'runs', `${option}-${round}`);
          await mkdir(dir, { recursive: true });
          await syncDisks();
          const run = await runChild({ args: [option, url, String(size), sha256, dir], env });
          await rm(dir, { recursive: true, force: true });
          if (!run.ok) throw new Error(`${name}: the digest did not match the origin's sha256`);
          (runs[name] as ChildRun[]).push(run);
          figures.push(`${name} ${run.seconds.toFixed(2)}s cpu ${run.cpuSeconds.toFixed(2)}s main ${run.mainThreadSeconds.toFixed(2)}s`);
        }
        log(`    round ${round + 1}/${rounds}: ${figures.join('; ')}`);
      }
      const measurements: BenchMeasurement[] = [];
      const med = (name: string, pick: (r: ChildRun) => number): number => Math.round(median((runs[name] as ChildRun[]).map(pick)) * 100) / 100;
      for (const name of names) {
        measurements.push({ name: `${name}: wall (median of ${rounds})`, seconds: med(name, (r) => r.seconds) });
        measurements.push({ name: `${name}: CPU user+sys, all threads (median; user ${med(name, (r) => r.userSeconds)} s)`, value: med(name, (r) => r.cpuSeconds), unit: 's' });
        measurements.push({ name: `${name}: CPU of the main thread (median)`, value: med(name, (r) => r.mainThreadSeconds), unit: 's' });
      }
      measurements.push({ name: 'file size', value: size, unit: 'bytes' });
      return {
        bench: 'tls-receive',
        description: this.description,
        measurements,
        ratios: [],
        notes: [
          `bytes served by ${server.description}`,
          'each run: a fresh node process running transferBlob only (no metadata, no CLI); every digest equal to the origin sha256',
          'CPU user+sys counts every thread of the process: receive (and TLS), the ring writer (pwrite) and hasher (sha256)',
          loadNote(loadAtStart),
        ],
      };
    } });
  },
};

export default bench;
