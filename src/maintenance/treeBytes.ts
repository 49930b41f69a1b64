/**
 * Bytes of the regular files in a folder tree, links not followed: what
 * removing the tree frees (`.no_exist/<commit>` markers are empty files, but
 * nothing stops another tool from writing more there).
 */
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

export async function treeBytes(params: { path: string }): Promise<number> {
  let stats;
  try {
    stats = await lstat(params.path);
  } catch {
    // Already gone: removing it frees nothing.
    return 0;
  }
  if (!stats.isDirectory()) return stats.isFile() ? stats.size : 0;
  const names = await readdir(params.path).catch(() => [] as string[]);
  const sizes = await Promise.all(names.map((name) => treeBytes({ path: join(params.path, name) })));
  return sizes.reduce((a, b) => a + b, 0);
}
