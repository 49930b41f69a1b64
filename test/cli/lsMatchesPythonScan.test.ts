/**
 * `ls --json` against Python huggingface_hub's `scan_cache_dir` on a generated
 * cache shaped like the scan benchmark's (shared blobs across revisions, files
 * in subfolders), plus datasets, nested refs, an orphan blob and a partial
 * download. Read by the addon's listing when it is built (else by the
 * JavaScript walker, on worker threads from 32 repos on).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildSyntheticCache } from '../../bench/syntheticCache.js';
import { pythonHub } from '../helpers/pythonHub.js';
import { makeTempDir } from '../helpers/tempDir.js';
import { runCli } from '../helpers/runCli.js';

const python = pythonHub();

// Per repo and per revision, the figures `hf cache ls` shows.
const SCAN = `
import json, sys
from huggingface_hub import scan_cache_dir
info = scan_cache_dir(sys.argv[1])
print(json.dumps({
  "size": info.size_on_disk,
  "warnings": [str(w) for w in info.warnings],
  "repos": sorted([{
    "id": r.repo_type + ":" + r.repo_id, "size": r.size_on_disk, "nb_files": r.nb_files, "refs": sorted(r.refs),
    "revisions": sorted([{"commit": v.commit_hash, "size": v.size_on_disk, "nb_files": v.nb_files, "refs": sorted(v.refs)} for v in r.revisions], key=lambda v: v["commit"]),
  } for r in info.repos], key=lambda r: r["id"]),
}))
`;

interface LsJson {
  sizeOnDisk: number;
  repos: Array<{
    repoType: string;
    repoId: string;
    sizeOnDisk: number;
    nbFiles: number;
    refs: Record<string, string>;
    revisions: Array<{ commit: string; sizeOnDisk: number; nbFiles: number; refs: string[] }>;
  }>;
}

describe.skipIf(!python)('ls --json and Python scan_cache_dir', () => {
  it('report the same repos, revisions, refs, file counts and sizes', async () => {
    const cacheDir = join(await makeTempDir(), 'hub');
    // 40 repos: without the addon, the CLI's summary scan fans out to worker threads from 32 repos on.
    buildSyntheticCache({ cacheDir, repos: 40, revisionsPerRepo: 2, filesPerRevision: 12, changedPerRevision: 1 });
    buildSyntheticCache({ cacheDir: join(cacheDir, 'half'), repos: 1, revisionsPerRepo: 3, filesPerRevision: 10 });
    // Odd but valid: a dataset, a nested ref, a blob no snapshot uses, a partial download.
    const repo = join(cacheDir, 'models--bench-org--model-3');
    mkdirSync(join(repo, 'refs', 'refs', 'pr'), { recursive: true });
    writeFileSync(join(repo, 'refs', 'refs', 'pr', '1'), readdirSync(join(repo, 'snapshots'))[0]!);
    writeFileSync(join(repo, 'blobs', 'f'.repeat(64)), 'orphan bytes');
    writeFileSync(join(repo, 'blobs', `${'e'.repeat(64)}.incomplete`), 'partial');
    buildSyntheticCache({ cacheDir: join(cacheDir, 'tmpdataset'), repos: 1, revisionsPerRepo: 1, filesPerRevision: 7 });
    renameSync(join(cacheDir, 'tmpdataset', 'models--bench-org--model-0'), join(cacheDir, 'datasets--bench-org--data'));
    renameSync(join(cacheDir, 'half', 'models--bench-org--model-0'), join(cacheDir, 'models--other--half-shared'));
    for (const dir of ['half', 'tmpdataset']) rmSync(join(cacheDir, dir), { recursive: true });

    const res = await runCli({ args: ['ls', '--json', '--cache-dir', cacheDir] });
    expect(res.code, res.stderr).toBe(0);
    const ours = res.json<LsJson>();
    const py = spawnSync(python!, ['-c', SCAN, cacheDir], { encoding: 'utf8' });
    expect(py.status, py.stderr).toBe(0);
    const theirs = JSON.parse(py.stdout) as {
      size: number;
      warnings: string[];
      repos: Array<{ id: string; size: number; nb_files: number; refs: string[]; revisions: Array<{ commit: string; size: number; nb_files: number; refs: string[] }> }>;
    };
    expect(theirs.warnings).toEqual([]);
    expect(theirs.repos).toHaveLength(42);
    const mine = ours.repos
      .map((r) => ({
        id: `${r.repoType}:${r.repoId}`,
        size: r.sizeOnDisk,
        nb_files: r.nbFiles,
        refs: Object.keys(r.refs).sort(),
        revisions: r.revisions
          .map((v) => ({ commit: v.commit, size: v.sizeOnDisk, nb_files: v.nbFiles, refs: [...v.refs].sort() }))
          .sort((a, b) => (a.commit < b.commit ? -1 : 1)),
      }))
      .sort((a, b) => (a.id < b.id ? -1 : 1));
    // Python names nested refs "refs/pr/1" too; both count unique blobs per repo, every file per revision.
    expect(mine).toEqual(theirs.repos);
    expect(ours.sizeOnDisk).toBe(theirs.size);
  }, 60_000);
});
