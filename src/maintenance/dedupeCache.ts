/**
 * `hubcache dedupe`: the same blob (same etag) downloaded by several repos
 * (a fine-tune that ships its base model's tokenizer, a GGUF re-uploaded
 * under another org) becomes one inode hard-linked into each repo's blobs/.
 * Every tool still finds a regular file at `blobs/<etag>`, so the layout
 * stays valid; removing one repo later frees nothing until the last link goes.
 *
 * Both copies are hashed against the etag before linking: equal names are
 * only a claim, and linking a damaged copy over a good one would spread it.
 */
import { link, lstat } from 'node:fs/promises';
import { hashAlgorithmForBlobName } from '../cache/etag.js';
import { hashMany, type HashJob } from '../cache/hashPool.js';
import { assertInsideCache } from '../cache/insideCache.js';
import { scanCache } from '../cache/scanCache.js';
import { fileFacts, readRepoInventory, type FileFacts } from './repoInventory.js';
import { cacheTempDir, replaceViaTemp } from '../cache/replaceViaTemp.js';

export interface DedupeGroup {
  /** The blob name (etag) shared by the copies. */
  name: string;
  size: number;
  /** The copy every other becomes a link to. */
  keep: string;
  /** Paths replaced (or, in a dry run, to be replaced) by a hard link to `keep`. */
  linked: string[];
  /** Bytes freed (an inode's bytes count only when its last link is replaced). */
  bytesSaved: number;
}

export interface DedupeReport {
  cacheDir: string;
  dryRun: boolean;
  groups: DedupeGroup[];
  bytesSaved: number;
  bytesHashed: number;
  /** Copies left alone, and why (damaged, changed meanwhile, permission). */
  skipped: Array<{ path: string; why: string }>;
}

export interface DedupeCacheParams {
  cacheDir: string;
  dryRun?: boolean;
  concurrency?: number;
  onProgress?: (event: { bytesDone: number; bytesTotal: number }) => void;
}

interface Copy {
  repo: string;
  facts: FileFacts;
}

export async function dedupeCache(params: DedupeCacheParams): Promise<DedupeReport> {
  const scan = await scanCache({ cacheDir: params.cacheDir });
  const report: DedupeReport = { cacheDir: scan.cacheDir, dryRun: params.dryRun === true, groups: [], bytesSaved: 0, bytesHashed: 0, skipped: [] };
  const byName = new Map<string, Array<{ repo: string; path: string }>>();
  for (const repo of scan.repos) {
    for (const [name, path] of readRepoInventory({ repoPath: repo.repoPath, folderName: repo.folderName, snapshots: false }).blobs) {
      if (hashAlgorithmForBlobName({ name })) byName.set(name, [...(byName.get(name) ?? []), { repo: repo.folderName, path }]);
    }
  }
  // Hard links cannot cross filesystems, so copies are grouped per device too.
  const groups: Copy[][] = [];
  for (const [name, found] of byName) {
    if (found.length < 2) continue;
    const copies: Copy[] = [];
    for (const { repo, path } of found) {
      const facts = fileFacts({ path, name });
      if (facts) copies.push({ repo, facts });
    }
    const byDev = new Map<string, Copy[]>();
    for (const copy of copies) {
      const dev = copy.facts.inodeKey.split(':')[0] as string;
      byDev.set(dev, [...(byDev.get(dev) ?? []), copy]);
    }
    for (const group of byDev.values()) if (new Set(group.map((c) => c.facts.inodeKey)).size > 1) groups.push(group);
  }

  const jobs: HashJob[] = [];
  const seenInodes = new Set<string>();
  for (const group of groups) {
    for (const copy of group) {
      // One hash per inode: links of one inode hold the same bytes by definition.
      if (seenInodes.has(copy.facts.inodeKey)) continue;
      seenInodes.add(copy.facts.inodeKey);
      jobs.push({ path: copy.facts.path, algorithm: hashAlgorithmForBlobName({ name: copy.facts.name }) as HashJob['algorithm'], size: copy.facts.size });
    }
  }
  const results = await hashMany({
    jobs,
    ...(params.concurrency !== undefined ? { concurrency: params.concurrency } : {}),
    ...(params.onProgress ? { onProgress: params.onProgress } : {}),
  });
  const verified = new Set<string>();
  for (const result of results) {
    if (result.error) {
      report.skipped.push({ path: result.job.path, why: `cannot read it: ${result.error.message}` });
      continue;
    }
    report.bytesHashed += result.size;
    const name = result.job.path.slice(result.job.path.lastIndexOf('/') + 1);
    if (result.digest === name) verified.add(result.job.path);
    else report.skipped.push({ path: result.job.path, why: 'its content does not match its name (run `hubcache verify`)' });
  }

  for (const group of groups) {
    const inodeOk = new Map<string, boolean>();
    for (const copy of group) if (verified.has(copy.facts.path)) inodeOk.set(copy.facts.inodeKey, true);
    const good = group.filter((c) => inodeOk.get(c.facts.inodeKey) === true);
    if (new Set(good.map((c) => c.facts.inodeKey)).size < 2) continue;
    // Keep the inode that already has the most links: fewest replacements, most bytes freed.
    const keep = [...good].sort((a, b) => b.facts.nlink - a.facts.nlink || a.repo.localeCompare(b.repo))[0] as Copy;
    const others = good.filter((c) => c.facts.inodeKey !== keep.facts.inodeKey);
    const entry: DedupeGroup = { name: keep.facts.name, size: keep.facts.size, keep: keep.facts.path, linked: [], bytesSaved: 0 };
    for (const copy of others) {
      if (params.dryRun) {
        entry.linked.push(copy.facts.path);
        // Freed only when every link of the inode is one we replace.
        const replaced = others.filter((o) => o.facts.inodeKey === copy.facts.inodeKey);
        if (replaced.length >= copy.facts.nlink && replaced[replaced.length - 1] === copy) entry.bytesSaved += copy.facts.size;
        continue;
      }
      try {
        const freed = await replaceWithLink({ cacheDir: scan.cacheDir, keep: keep.facts, copy: copy.facts });
        entry.linked.push(copy.facts.path);
        entry.bytesSaved += freed;
      } catch (err) {
        report.skipped.push({ path: copy.facts.path, why: (err as Error).message });
      }
    }
    if (entry.linked.length > 0) {
      report.groups.push(entry);
      report.bytesSaved += entry.bytesSaved;
    }
  }
  report.groups.sort((a, b) => b.bytesSaved - a.bytesSaved || a.name.localeCompare(b.name));
  return report;
}

/**
 * Puts a hard link to `keep` at the copy's path: link at a temp name, then
 * rename over, so the path always names a complete blob. Both files must still
 * be the inodes that were hashed; a blob replaced meanwhile is left alone.
 */
async function replaceWithLink(params: { cacheDir: string; keep: FileFacts; copy: FileFacts }): Promise<number> {
  const { keep, copy } = params;
  await assertInsideCache({ cacheDir: params.cacheDir, path: copy.path });
  const [keepNow, copyNow] = await Promise.all([lstat(keep.path, { bigint: true }), lstat(copy.path, { bigint: true })]);
  if (`${keepNow.dev}:${keepNow.ino}` !== keep.inodeKey || !keepNow.isFile()) throw new Error(`${keep.path} changed since it was hashed; run dedupe again`);
  if (`${copyNow.dev}:${copyNow.ino}` !== copy.inodeKey || !copyNow.isFile() || Number(copyNow.mtimeMs) !== copy.mtimeMs) {
    throw new Error('changed since it was hashed; run dedupe again');
  }
  await replaceViaTemp({ tempDir: cacheTempDir(params.cacheDir), dest: copy.path, write: (tmp) => link(keep.path, tmp) });
  return copyNow.nlink <= 1n ? Number(copyNow.size) : 0;
}
