/**
 * What every maintenance test checks after a command: hubcache's verify finds
 * no damage, @huggingface/hub's scanCacheDir warns about nothing new, and the
 * bytes that left the disk are the bytes the plan promised.
 */
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { scanCacheDir } from '@huggingface/hub';
import { verifyCache } from '../../src/maintenance/verifyCache.js';

/** Bytes of regular files under the folder, each inode once, links not followed. */
export async function diskBytes(params: { dir: string }): Promise<number> {
  const seen = new Set<string>();
  let total = 0;
  async function walk(dir: string): Promise<void> {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        await walk(path);
        continue;
      }
      const stats = await lstat(path, { bigint: true });
      const key = `${stats.dev}:${stats.ino}`;
      if (!stats.isFile() || seen.has(key)) continue;
      seen.add(key);
      total += Number(stats.size);
    }
  }
  await walk(params.dir);
  return total;
}

export async function hfjsWarnings(params: { cacheDir: string }): Promise<string[]> {
  const info = await scanCacheDir(params.cacheDir);
  return info.warnings.map((w) => w.message).sort();
}

/** Verify errors (damage), as messages; empty when the cache verifies clean. */
export async function verifyErrors(params: { cacheDir: string }): Promise<string[]> {
  const report = await verifyCache({ cacheDir: params.cacheDir });
  return report.findings.filter((f) => f.severity === 'error').map((f) => `${f.code} ${f.path}: ${f.message}`);
}

/** Every hfjs warning after the command was already there before it. */
export function newWarnings(params: { before: string[]; after: string[] }): string[] {
  return params.after.filter((w) => !params.before.includes(w));
}
