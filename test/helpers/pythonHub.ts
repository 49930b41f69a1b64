import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The Python interpreter of `.venv-hub` (made by `.ci/python-hub.sh`) with the real
 * `huggingface_hub`, or undefined where it is absent (tests then warn and skip).
 * `HUBCACHE_TEST_PYTHON` overrides the path.
 */
export function pythonHub(): string | undefined {
  const candidate =
    process.env.HUBCACHE_TEST_PYTHON ?? fileURLToPath(new URL('../../.venv-hub/bin/python', import.meta.url));
  if (!existsSync(candidate)) return undefined;
  return spawnSync(candidate, ['-c', 'import huggingface_hub'], { stdio: 'ignore' }).status === 0 ? candidate : undefined;
}

/** The result of Python's `scan_cache_dir` on a cache folder: repos with their revisions, or the error it raised. */
export interface PythonScan {
  repos: { repo_id: string; repo_type: string; size_on_disk: number; nb_files: number; refs: string[]; revisions: string[] }[];
  warnings: string[];
  error?: string;
}

const SCAN = `
import json, sys
from huggingface_hub import scan_cache_dir
try:
    info = scan_cache_dir(sys.argv[1])
except Exception as e:
    print(json.dumps({"repos": [], "warnings": [], "error": type(e).__name__ + ": " + str(e)}))
    sys.exit(0)
repos = [{"repo_id": r.repo_id, "repo_type": r.repo_type, "size_on_disk": r.size_on_disk, "nb_files": r.nb_files,
          "refs": sorted(r.refs), "revisions": sorted(v.commit_hash for v in r.revisions)} for r in info.repos]
print(json.dumps({"repos": sorted(repos, key=lambda r: r["repo_id"]), "warnings": [str(w) for w in info.warnings]}))
`;

/** Runs Python huggingface_hub's `scan_cache_dir` on `cacheDir`. */
export function pythonScan(python: string, cacheDir: string): PythonScan {
  const r = spawnSync(python, ['-c', SCAN, cacheDir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`python scan failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as PythonScan;
}

/** Runs a Python script without blocking this process (a server in this process may have to answer it). */
export function runPython(params: { python: string; script: string; env?: Record<string, string | undefined>; timeoutMs?: number }): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(params.python, ['-c', params.script], { env: { ...process.env, ...params.env } as NodeJS.ProcessEnv });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), params.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}
