/**
 * Verify (issue 2): `hubcache verify --json` over about 1.2 GiB of blobs (one
 * 1 GiB file and ~200 MiB of smaller ones in three repos) vs one
 * `openssl dgst -sha256` process over the same blob files. Both start from
 * the page cache (every blob is read once first), so this measures hashing,
 * not the disk. Rounds rotate the order; figures are medians.
 */
import { copyFile, link, mkdir, rename, symlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHash } from 'node:crypto';
import type { Bench, BenchMeasurement } from './types.js';
import { median } from './measure.js';
import { timeProcessWithUsage, type UsageRun } from './processUsage.js';
import { childEnv, GiB, mbPerSecond, MiB, rotatedRounds, spread, warmPageCache, type Competitor, loadNote, loadNow } from './benchFiles.js';
import { generatedFile, writeKeystream } from '../test/helpers/origin/generatedFile.js';

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));

interface BlobSpec {
  path: string;
  size: number;
}

interface RepoSpec {
  folder: string;
  files: BlobSpec[];
}

function cacheShape(params: { quick: boolean }): { big: number; repos: RepoSpec[] } {
  const k = params.quick ? 4 : 1;
  const files = (prefix: string, count: number, size: number): BlobSpec[] =>
    Array.from({ length: count }, (_, i) => ({ path: `${prefix}-${String(i).padStart(5, '0')}-of-${String(count).padStart(5, '0')}.safetensors`, size: Math.floor(size / k) }));
  return {
    big: params.quick ? 256 * MiB : GiB,
    repos: [
      // The big file lands here (first file of the first repo), beside two medium shards and small configs.
      { folder: 'models--bench--llm', files: [...files('extra', 2, 32 * MiB), { path: 'config.json', size: 2 * 1024 }, { path: 'tokenizer.json', size: 2 * MiB }] },
      { folder: 'models--bench--encoder', files: [...files('model', 2, 32 * MiB), ...files('onnx/model', 8, 8 * MiB)] },
      { folder: 'datasets--bench--shards', files: [...files('data/train', 32, 256 * 1024), ...files('data/meta', 64, 4 * 1024)] },
    ],
  };
}

export async function buildCache(params: { cacheDir: string; quick: boolean }): Promise<{ blobPaths: string[]; bytes: number; sha256ByPath: Map<string, string> }> {
  const shape = cacheShape(params);
  const blobPaths: string[] = [];
  const sha256ByPath = new Map<string, string>();
  let bytes = 0;
  await mkdir(params.cacheDir, { recursive: true });
  await writeFile(join(params.cacheDir, 'CACHEDIR.TAG'), 'Signature: 8a477f597d28d172789f06886806bc55\n');
  for (const [r, repo] of shape.repos.entries()) {
    const repoDir = join(params.cacheDir, repo.folder);
    const blobsDir = join(repoDir, 'blobs');
    const commit = createHash('sha1').update(`bench-verify ${repo.folder}`).digest('hex');
    await mkdir(blobsDir, { recursive: true });
    await mkdir(join(repoDir, 'refs'), { recursive: true });
    await writeFile(join(repoDir, 'refs', 'main'), commit);
    const entries: Array<{ path: string; blob: string }> = [];
    if (r === 0) {
      // The same deterministic bytes the download bench serves, generated once per machine; hard-linked in.
      const big = await generatedFile({ size: shape.big, seed: 'hubcache-bench-download' });
      const blob = join(blobsDir, big.sha256);
      await link(big.path, blob).catch(() => copyFile(big.path, blob));
      entries.push({ path: 'model.safetensors', blob });
      sha256ByPath.set(blob, big.sha256);
      bytes += shape.big;
    }
    for (const file of repo.files) {
      const tmp = join(blobsDir, `.bench-${basename(file.path)}.tmp`);
      const { sha256 } = await writeKeystream({ path: tmp, size: file.size, seed: `${repo.folder}/${file.path}` });
      const blob = join(blobsDir, sha256);
      await rename(tmp, blob);
      entries.push({ path: file.path, blob });
      sha256ByPath.set(blob, sha256);
      bytes += file.size;
    }
    for (const entry of entries) {
      const linkPath = join(repoDir, 'snapshots', commit, entry.path);
      await mkdir(dirname(linkPath), { recursive: true });
      await symlink(relative(dirname(linkPath), entry.blob), linkPath);
      blobPaths.push(entry.blob);
    }
  }
  return { blobPaths, bytes, sha256ByPath };
}

const bench: Bench = {
  name: 'verify',
  description: 'verify --json on ~1.2 GiB of blobs (one 1 GiB + ~200 MiB smaller) vs one openssl dgst -sha256 process, page cache warm',
  async run({ workDir, quick }) {
    const log = (line: string): void => void process.stderr.write(`${line}\n`);
    const loadAtStart = loadNow();
    const cacheDir = join(workDir, 'hub');
    const built = await buildCache({ cacheDir, quick });
    await warmPageCache(built.blobPaths);
    log(`    ${built.blobPaths.length} blobs, ${built.bytes} bytes`);
    const env = childEnv({ HF_HOME: join(workDir, 'hf-home') });
    const checkHubcache = async (run: UsageRun): Promise<void> => {
      const report = JSON.parse(run.stdout) as { ok: boolean; blobsChecked: number; bytesHashed: number };
      if (!report.ok || report.blobsChecked !== built.blobPaths.length || report.bytesHashed !== built.bytes) {
        throw new Error(`hubcache verify: unexpected report ${run.stdout.slice(0, 500)}`);
      }
    };
    const competitors: Record<string, Competitor<UsageRun>> = {
      hubcache: {
        run: () => timeProcessWithUsage({ command: process.execPath, args: [CLI, 'verify', '--json', '--cache-dir', cacheDir], env }),
        after: checkHubcache,
      },
      openssl: {
        run: () => timeProcessWithUsage({ command: 'openssl', args: ['dgst', '-sha256', ...built.blobPaths], env }),
        async after(run) {
          // "SHA2-256(<path>)= <hex>" (OpenSSL 3) or "SHA256(<path>)= <hex>" (1.1)
          let matched = 0;
          for (const line of run.stdout.trim().split('\n')) {
            const m = /^SHA2?-?256\((.*)\)= ([0-9a-f]{64})$/.exec(line);
            if (m && built.sha256ByPath.get(m[1] as string) === m[2]) matched += 1;
          }
          if (matched !== built.blobPaths.length) throw new Error(`openssl: ${matched} of ${built.blobPaths.length} digests matched`);
        },
      },
      'hubcache-j1': {
        run: () => timeProcessWithUsage({ command: process.execPath, args: [CLI, 'verify', '--json', '--jobs', '1', '--cache-dir', cacheDir], env }),
        after: checkHubcache,
      },
    };
    const results = await rotatedRounds({ rounds: quick ? 3 : 5, warmup: !quick, competitors, log });
    const t = (name: string): number => (results[name] as { median: number }).median;
    const runs = (name: string): UsageRun[] => (results[name] as { runs: UsageRun[] }).runs;
    const label: Record<string, string> = {
      hubcache: 'hubcache verify --json',
      openssl: `openssl dgst -sha256 <${built.blobPaths.length} blob files>`,
      'hubcache-j1': 'hubcache verify --json --jobs 1 (one hashing thread, for reference)',
    };
    const measurements: BenchMeasurement[] = [];
    for (const name of Object.keys(competitors)) measurements.push({ name: `${label[name]} (median of ${runs(name).length})`, seconds: t(name) });
    for (const name of Object.keys(competitors)) measurements.push({ name: `${name} throughput`, value: mbPerSecond(built.bytes, t(name)), unit: 'MB/s' });
    for (const name of Object.keys(competitors)) {
      const cpu = runs(name).filter((r) => r.userSeconds !== undefined).map((r) => (r.userSeconds ?? 0) + (r.sysSeconds ?? 0));
      if (cpu.length > 0) measurements.push({ name: `${name} CPU time user+sys (median)`, value: Math.round(median(cpu) * 100) / 100, unit: 's' });
    }
    measurements.push({ name: 'bytes hashed', value: built.bytes, unit: 'bytes' });
    measurements.push({ name: 'blobs', value: built.blobPaths.length, unit: 'files' });
    const ratio = t('openssl') / t('hubcache');
    return {
      bench: 'verify',
      description: this.description,
      measurements,
      ratios: [{ name: 'hubcache verify throughput / openssl dgst throughput', value: ratio, target: '>= 1.0', met: ratio >= 1.0 }],
      notes: [
        'every run checked: hubcache reports ok with every blob and byte hashed; every openssl digest equals its blob name',
        'all blobs are sha256-named (LFS-style) so openssl computes exactly what verify computes',
        ...Object.keys(competitors).map((name) => `${name}: ${spread(runs(name).map((r) => r.seconds))}`),
        'hubcache time includes node start-up and the cache scan (links, refs) besides hashing',
        loadNote(loadAtStart),
      ],
    };
  },
};

export default bench;
