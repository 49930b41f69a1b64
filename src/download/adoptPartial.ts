/**
 * Finds an earlier partial download of a blob and claims it for resuming.
 * Runs under the blob's lock, so no locking writer (hubcache, Python,
 * llama.cpp with locks) is still appending to it. A writer that takes no
 * lock (@huggingface/hub uses the fixed name `<etag>.incomplete`) might be,
 * so such a file is taken only when it has not changed for a while; and
 * whatever is taken is hashed in full before it can become a blob anyway.
 */
import { readdir, rename, stat, unlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { readPartialState, type Segment } from './partialState.js';
import { etagCandidatesOfBlobFileName } from '../cache/etag.js';
import { HUBCACHE_DIR_NAME } from '../cache/repoPaths.js';

export interface AdoptedPartial {
  segments: Segment[];
  sourceEtag: string | undefined;
  bytes: number;
}

const FOREIGN_QUIET_MS = 15_000;

export function partialStatePath(params: { cacheDir: string; repoFolder: string; partialPath: string }): string {
  return join(params.cacheDir, HUBCACHE_DIR_NAME, 'partials', params.repoFolder, `${basename(params.partialPath)}.state`);
}

export async function adoptPartial(params: {
  cacheDir: string;
  repoFolder: string;
  blobsDir: string;
  etag: string;
  size: number;
  /** The fresh partial name to claim into. */
  partialPath: string;
  now?: number;
}): Promise<AdoptedPartial | undefined> {
  let names: string[];
  try {
    names = await readdir(params.blobsDir);
  } catch {
    return undefined;
  }
  const now = params.now ?? Date.now();
  const candidates: Array<{ path: string; statePath: string; adopted: AdoptedPartial }> = [];
  for (const name of names) {
    // The etag rule of etag.ts: a dotted etag's partial (`a.b.<hex>.incomplete`) is not one of etag `a`.
    if (!name.endsWith('.incomplete') || !etagCandidatesOfBlobFileName(name).includes(params.etag)) continue;
    const path = join(params.blobsDir, name);
    const stats = await stat(path).catch(() => undefined);
    if (!stats?.isFile()) continue;
    const statePath = partialStatePath({ cacheDir: params.cacheDir, repoFolder: params.repoFolder, partialPath: path });
    const state = readPartialState({ statePath });
    if (state && state.header.etag === params.etag && state.header.size === params.size) {
      // One stream only appends, so the file size is its true progress (the record may lag a little).
      const segments =
        state.segments.length === 1
          ? [{ start: 0, end: params.size, done: Math.min(stats.size, params.size) }]
          : state.segments.map((s) => ({ ...s }));
      candidates.push({ path, statePath, adopted: { segments, sourceEtag: state.header.sourceEtag, bytes: segments.reduce((n, s) => n + s.done, 0) } });
      continue;
    }
    if (stats.size > params.size) continue;
    if (name === `${params.etag}.incomplete` && now - stats.mtimeMs < FOREIGN_QUIET_MS) continue;
    // Another tool's partial (Python, or ours without state): written front to back, so its size is its progress.
    candidates.push({ path, statePath, adopted: { segments: [{ start: 0, end: params.size, done: stats.size }], sourceEtag: undefined, bytes: stats.size } });
  }
  candidates.sort((a, b) => b.adopted.bytes - a.adopted.bytes);
  for (const candidate of candidates) {
    try {
      // The rename is the claim: if another process claimed it first, this fails and we try the next.
      await rename(candidate.path, params.partialPath);
    } catch {
      continue;
    }
    await unlink(candidate.statePath).catch(() => undefined);
    return candidate.adopted;
  }
  return undefined;
}
