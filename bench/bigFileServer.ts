/**
 * The download benches' one big file, served by startBenchServer: a generated file
 * (deterministic, incompressible, made once per machine and reused by every bench that names
 * the same seed and size), 1 GiB, 256 MiB with --quick. The two https benches share their whole
 * set-up (withTlsBigFile): the server with its https CDN, the file warmed into the page cache,
 * the rounds, the load at start, the server closed at the end.
 */
import { linearRepo } from '../test/helpers/origin/fixture.js';
import { GiB, loadNow, MiB, warmPageCache } from './benchFiles.js';
import { startBenchServer, type BenchServer } from './benchServer.js';
import type { BenchResult } from './types.js';

export const BIG_REPO = 'bench/big-model';
export const BIG_FILE = 'model.safetensors';

export function bigFileSize(quick: boolean): number {
  return quick ? 256 * MiB : GiB;
}

export function startBigFileServer(params: { workDir: string; size: number; tls?: boolean }): Promise<BenchServer> {
  return startBenchServer({
    workDir: params.workDir,
    fixture: { repos: [linearRepo({ repoId: BIG_REPO, commits: [{ files: [{ path: BIG_FILE, source: { size: params.size, seed: 'hubcache-bench-download' } }] }] })] },
    ...(params.tls ? { tls: true } : {}),
  });
}

/** Reads the file into the page cache (untimed), so every competitor starts from the same warm bytes; its sha256. */
export async function warmBigFile(server: BenchServer): Promise<string> {
  const expected = server.origin.file({ repoId: BIG_REPO, path: BIG_FILE });
  if (expected.blob.body.kind === 'file') await warmPageCache([expected.blob.body.path]);
  return expected.blob.sha256;
}

export interface TlsBigFile {
  server: BenchServer;
  /** The Hub endpoint whose LFS redirects go to the https CDN, and that CDN's certificate. */
  tls: NonNullable<BenchServer['tls']>;
  size: number;
  rounds: number;
  sha256: string;
  loadAtStart: number[];
  log: (line: string) => void;
}

/** Runs `measure` on the big file behind an https CDN; without one (no nginx) a result that says the bench did not run. */
export async function withTlsBigFile(params: { bench: string; description: string; workDir: string; quick: boolean; measure: (setup: TlsBigFile) => Promise<BenchResult> }): Promise<BenchResult> {
  const size = bigFileSize(params.quick);
  const rounds = params.quick ? 2 : 5;
  const log = (line: string): void => void process.stderr.write(`${line}\n`);
  const loadAtStart = loadNow();
  const server = await startBigFileServer({ workDir: params.workDir, size, tls: true });
  try {
    const tls = server.tls;
    if (!tls) return { bench: params.bench, description: params.description, measurements: [], ratios: [], notes: [`not run: no https CDN (${server.description}); install nginx`] };
    const sha256 = await warmBigFile(server);
    return await params.measure({ server, tls, size, rounds, sha256, loadAtStart, log });
  } finally {
    await server.close();
  }
}
