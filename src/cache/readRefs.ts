/**
 * Reads `refs/` recursively: `refs/main`, and nested ones like
 * `refs/refs/pr/1`. Python writes refs without a newline, but hand-made or
 * other tools' refs may carry one, so the content is trimmed.
 */
import { readFile } from 'node:fs/promises';
import { readdirSync, readFileSync, type Dirent } from 'node:fs';
import { join } from 'node:path';

export interface RefsReadResult {
  /** ref name (`main`, `refs/pr/1`) -> commit text as found (trimmed). */
  refs: Map<string, string>;
  problems: Array<{ path: string; message: string }>;
}

const IGNORED = new Set(['.DS_Store']);

/** Reads one ref; undefined when absent. */
export async function readRef(params: { refPath: string }): Promise<string | undefined> {
  try {
    return (await readFile(params.refPath, 'utf8')).trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw err;
  }
}

/**
 * All refs of a repo. Synchronous: the scanner calls it in a walk of tens of
 * thousands of tiny fs calls, where promise overhead would dominate.
 */
export function readRefsSync(params: { refsDir: string }): RefsReadResult {
  const refs = new Map<string, string>();
  const problems: RefsReadResult['problems'] = [];
  const walk = (dir: string, prefix: string): void => {
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') problems.push({ path: dir, message: `cannot read: ${(err as Error).message}` });
      return;
    }
    for (const entry of entries) {
      if (IGNORED.has(entry.name)) continue;
      const path = join(dir, entry.name);
      const name = prefix ? `${prefix}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        walk(path, name);
      } else if (!entry.isFile()) {
        problems.push({ path, message: 'ref is not a regular file' });
      } else {
        try {
          refs.set(name, readFileSync(path, 'utf8').trim());
        } catch (err) {
          problems.push({ path, message: `cannot read ref: ${(err as Error).message}` });
        }
      }
    }
  };
  walk(params.refsDir, '');
  return { refs, problems };
}
