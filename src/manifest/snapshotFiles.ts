/** Relative paths of the files (and file links) in a snapshot folder. */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

export async function snapshotFiles(params: { dir: string }): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string, prefix: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
      if (entry.isDirectory()) await walk(join(dir, entry.name), rel);
      // A link counts only if it resolves: a dangling one is a missing file for the service.
      else if (await stat(join(dir, entry.name)).then((s) => s.isFile(), () => false)) out.push(rel);
    }
  };
  await walk(params.dir, '');
  return out;
}
