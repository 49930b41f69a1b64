/**
 * Backup and restore (issue 12): `hubcache backup` / `hubcache restore` (which
 * hashes every blob while writing it) on a ~4 GiB cache (--quick: ~256 MiB)
 * against GNU `tar cf` / `tar xf` and `tar czf` / `tar xzf` of the same cache
 * folder. One run of each, in one process run; each restore starts from an empty
 * folder, each timed run from synced disks, the backups from a warm page cache.
 * Peak RSS of the hubcache processes is reported against the 150 MB budget.
 */
import { mkdir, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHash } from 'node:crypto';
import type { Bench, BenchMeasurement, BenchRatio } from './types.js';
import { timeProcessWithUsage, type UsageRun } from './processUsage.js';
import { childEnv, GiB, loadNote, loadNow, mbPerSecond, MiB, syncDisks, warmPageCache } from './benchFiles.js';
import { writeKeystream } from '../test/helpers/origin/generatedFile.js';

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const RSS_BUDGET_MB = 150;

interface RepoShape {
  folder: string;
  files: Array<{ path: string; size: number }>;
}

function shape(quick: boolean): RepoShape[] {
  const k = quick ? 16 : 1;
  const files = (prefix: string, count: number, size: number, ext = 'safetensors'): Array<{ path: string; size: number }> =>
    Array.from({ length: count }, (_, i) => ({ path: `${prefix}-${String(i + 1).padStart(5, '0')}-of-${String(count).padStart(5, '0')}.${ext}`, size: Math.floor(size / k) }));
  return [
    { folder: 'models--bench--llm', files: [...files('model', 2, 1.5 * GiB), { path: 'config.json', size: 2 * 1024 }, { path: 'tokenizer.json', size: 2 * MiB }] },
    { folder: 'models--bench--encoder', files: [...files('model', 2, 256 * MiB), ...files('onnx/model', 8, 8 * MiB, 'onnx')] },
    { folder: 'datasets--bench--shards', files: [...files('data/train', 64, 4 * MiB, 'parquet'), ...files('meta/part', 64, 4 * 1024, 'json')] },
  ];
}

async function buildCache(params: { cacheDir: string; quick: boolean }): Promise<{ blobPaths: string[]; bytes: number; blobs: number }> {
  const blobPaths: string[] = [];
  let bytes = 0;
  await mkdir(params.cacheDir, { recursive: true });
  await writeFile(join(params.cacheDir, 'CACHEDIR.TAG'), 'Signature: 8a477f597d28d172789f06886806bc55\n');
  for (const repo of shape(params.quick)) {
    const repoDir = join(params.cacheDir, repo.folder);
    const commit = createHash('sha1').update(`bench-archive ${repo.folder}`).digest('hex');
    await mkdir(join(repoDir, 'blobs'), { recursive: true });
    await mkdir(join(repoDir, 'refs'), { recursive: true });
    await writeFile(join(repoDir, 'refs', 'main'), commit);
    for (const file of repo.files) {
      const tmp = join(repoDir, 'blobs', `.bench-${file.path.replace(/\//g, '_')}.tmp`);
      const hashes = await writeKeystream({ path: tmp, size: file.size, seed: `${repo.folder}/${file.path}` });
      const etag = file.path.endsWith('.json') ? hashes.gitSha1 : hashes.sha256;
      const blob = join(repoDir, 'blobs', etag);
      await rename(tmp, blob);
      const link = join(repoDir, 'snapshots', commit, file.path);
      await mkdir(dirname(link), { recursive: true });
      await symlink(relative(dirname(link), blob), link);
      blobPaths.push(blob);
      bytes += file.size;
    }
  }
  return { blobPaths, bytes, blobs: blobPaths.length };
}

const bench: Bench = {
  name: 'archive',
  description: 'backup/restore of a ~4 GiB cache (--quick: ~256 MiB): hubcache vs GNU tar cf/xf and tar czf/xzf, one run each',
  async run({ workDir, quick }) {
    const log = (line: string): void => void process.stderr.write(`${line}\n`);
    const loadAtStart = loadNow();
    const cacheDir = join(workDir, 'hub');
    const built = await buildCache({ cacheDir, quick });
    log(`    ${built.blobs} blobs, ${built.bytes} bytes`);
    const env = childEnv({ HF_HOME: join(workDir, 'hf-home') });
    const out = (name: string): string => join(workDir, name);
    const timed = async (name: string, command: string, args: string[]): Promise<UsageRun> => {
      await syncDisks();
      const run = await timeProcessWithUsage({ command, args, env });
      if (run.code !== 0) throw new Error(`${name} failed (exit ${run.code}): ${run.stderr.slice(0, 2000)}`);
      log(`    ${name}: ${run.seconds.toFixed(3)} s${run.maxRssKiB !== undefined ? `, peak RSS ${Math.round(run.maxRssKiB / 1024)} MiB` : ''}`);
      return run;
    };

    await warmPageCache(built.blobPaths);
    const backup = await timed('hubcache backup', process.execPath, [CLI, 'backup', out('hubcache.tar'), '--json', '--cache-dir', cacheDir]);
    const backupReport = JSON.parse(backup.stdout) as { blobs: number; bytes: number };
    if (backupReport.blobs !== built.blobs || backupReport.bytes !== built.bytes) throw new Error(`hubcache backup: unexpected report ${backup.stdout.slice(0, 500)}`);
    await warmPageCache(built.blobPaths);
    const tarCf = await timed('tar cf', 'tar', ['cf', out('plain.tar'), '-C', cacheDir, '.']);
    await warmPageCache(built.blobPaths);
    const tarCzf = await timed('tar czf', 'tar', ['czf', out('plain.tgz'), '-C', cacheDir, '.']);

    const fresh = async (name: string): Promise<string> => {
      await rm(out(name), { recursive: true, force: true });
      await mkdir(out(name));
      return out(name);
    };
    const restoreDir = await fresh('restore-hubcache');
    const restore = await timed('hubcache restore', process.execPath, [CLI, 'restore', out('hubcache.tar'), '--json', '--cache-dir', restoreDir]);
    const restoreReport = JSON.parse(restore.stdout) as { ok: boolean; blobs: { written: number; bytesWritten: number } };
    if (!restoreReport.ok || restoreReport.blobs.written !== built.blobs || restoreReport.blobs.bytesWritten !== built.bytes) {
      throw new Error(`hubcache restore: unexpected report ${restore.stdout.slice(0, 500)}`);
    }
    await rm(restoreDir, { recursive: true, force: true });
    const tarXf = await timed('tar xf', 'tar', ['xf', out('plain.tar'), '-C', await fresh('restore-tar')]);
    await rm(out('restore-tar'), { recursive: true, force: true });
    const tarXzf = await timed('tar xzf', 'tar', ['xzf', out('plain.tgz'), '-C', await fresh('restore-tgz')]);
    await rm(out('restore-tgz'), { recursive: true, force: true });

    const archiveBytes = (await stat(out('hubcache.tar'))).size;
    const measurements: BenchMeasurement[] = [
      { name: 'hubcache backup', seconds: backup.seconds },
      { name: 'tar cf', seconds: tarCf.seconds },
      { name: 'tar czf', seconds: tarCzf.seconds },
      { name: 'hubcache restore (hashes every blob)', seconds: restore.seconds },
      { name: 'tar xf', seconds: tarXf.seconds },
      { name: 'tar xzf', seconds: tarXzf.seconds },
      { name: 'hubcache backup throughput', value: mbPerSecond(built.bytes, backup.seconds), unit: 'MB/s' },
      { name: 'hubcache restore throughput', value: mbPerSecond(built.bytes, restore.seconds), unit: 'MB/s' },
      { name: 'blob bytes', value: built.bytes, unit: 'bytes' },
      { name: 'hubcache archive bytes', value: archiveBytes, unit: 'bytes' },
    ];
    // CPU time (user + sys, every thread) moves much less with the machine's load than wall time.
    const runs = [['hubcache backup', backup], ['tar cf', tarCf], ['tar czf', tarCzf], ['hubcache restore', restore], ['tar xf', tarXf], ['tar xzf', tarXzf]] as const;
    for (const [name, run] of runs) {
      if (run.userSeconds !== undefined && run.sysSeconds !== undefined) {
        measurements.push({ name: `${name} CPU (user + sys)`, value: Number((run.userSeconds + run.sysSeconds).toFixed(2)), unit: `s (user ${run.userSeconds.toFixed(2)}, sys ${run.sysSeconds.toFixed(2)})` });
      }
    }
    const rss = (run: UsageRun): number | undefined => (run.maxRssKiB !== undefined ? Math.round(run.maxRssKiB / 1024) : undefined);
    for (const [name, run] of [['hubcache backup', backup], ['hubcache restore', restore]] as const) {
      const mb = rss(run);
      if (mb !== undefined) measurements.push({ name: `${name} peak RSS`, value: mb, unit: 'MiB' });
    }
    const ratio = (name: string, value: number, target: number): BenchRatio => ({ name, value, target: `>= ${target}`, met: value >= target });
    const ratios = [
      ratio('backup speed vs tar cf (tar cf time / hubcache time)', tarCf.seconds / backup.seconds, 0.9),
      ratio('backup speed vs tar czf (tar czf time / hubcache time)', tarCzf.seconds / backup.seconds, 10),
      ratio('restore (hashing) speed vs tar xf (tar xf time / hubcache time)', tarXf.seconds / restore.seconds, 0.7),
    ];
    for (const [name, run] of [['backup', backup], ['restore', restore]] as const) {
      const mb = rss(run);
      if (mb !== undefined) ratios.push({ name: `hubcache ${name} peak RSS under ${RSS_BUDGET_MB} MB (budget / peak)`, value: RSS_BUDGET_MB / mb, target: '>= 1', met: mb < RSS_BUDGET_MB });
    }
    return {
      bench: 'archive',
      description: this.description,
      measurements,
      ratios,
      notes: [
        'one run of each (the issue asks for ratios from one run); backups start from a warm page cache, restores from an empty folder, every run from synced disks',
        'hubcache restore checked: ok, every blob written, every byte; it hashes (sha256/git-sha1) while writing, tar xf does not',
        `peak RSS measured with ${backup.rssMethod}`,
        loadNote(loadAtStart),
      ],
    };
  },
};

export default bench;
