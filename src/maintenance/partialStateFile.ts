/**
 * hubcache's downloader keeps the progress of each partial download in its
 * own folder (`.locks/.hubcache/partials/<repo-folder>/<partial>.state`).
 * A record goes with its partial: removing one without the other leaves a
 * stale record (gc material) or, worse, a partial resumed from a wrong count.
 */
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { partialStatePath } from '../download/adoptPartial.js';
import { HUBCACHE_DIR_NAME } from '../cache/repoPaths.js';
import type { PlanItem } from './plan.js';
import type { FileFacts } from './repoInventory.js';

const STATE_SUFFIX = '.state';

/** The progress record of a partial, when there is one. */
export async function partialStateFile(params: { cacheDir: string; repo: string; partialPath: string }): Promise<{ path: string; bytes: number } | undefined> {
  const path = partialStatePath({ cacheDir: params.cacheDir, repoFolder: params.repo, partialPath: params.partialPath });
  const stats = await lstat(path).catch(() => undefined);
  return stats?.isFile() ? { path, bytes: stats.size } : undefined;
}

/** Every progress record, with the partial it belongs to (which may be gone). */
export async function listPartialStateFiles(params: { cacheDir: string }): Promise<Array<{ path: string; repo: string; partialPath: string; bytes: number; mtimeMs: number }>> {
  const root = join(params.cacheDir, HUBCACHE_DIR_NAME, 'partials');
  const repos = await readdir(root).catch(() => [] as string[]);
  const found = await Promise.all(
    repos.map(async (repo) => {
      const names = await readdir(join(root, repo)).catch(() => [] as string[]);
      const records = await Promise.all(
        names
          .filter((name) => name.endsWith(STATE_SUFFIX))
          .map(async (name) => {
            const path = join(root, repo, name);
            const stats = await lstat(path).catch(() => undefined);
            if (!stats?.isFile()) return undefined;
            const partialPath = join(params.cacheDir, repo, 'blobs', name.slice(0, -STATE_SUFFIX.length));
            return { path, repo, partialPath, bytes: stats.size, mtimeMs: stats.mtimeMs };
          }),
      );
      return records.filter((r) => r !== undefined);
    }),
  );
  return found.flat();
}

/** A plan item for a partial download; its bytes include the progress record removed with it. */
export async function partialItem(params: { cacheDir: string; repo: string; partial: FileFacts; reason: string }): Promise<PlanItem> {
  const record = await partialStateFile({ cacheDir: params.cacheDir, repo: params.repo, partialPath: params.partial.path });
  return { kind: 'partial', path: params.partial.path, bytes: params.partial.size + (record?.bytes ?? 0), reason: params.reason, repo: params.repo };
}
