/**
 * The snapshot links of a restore. A file is linked through fetchBlob's locked
 * link step as soon as its blob is in the cache (so a concurrent gc cannot
 * take an unlinked blob); until then it waits under its blob's key. When the
 * stream is over, what still waits is judged once per blob (finish).
 */
import { stat } from 'node:fs/promises';
import { isHubcacheError } from '../errors.js';
import { repoPaths } from '../cache/repoPaths.js';
import { fetchBlob } from '../download/fetchBlob.js';
import { quoteInput } from '../quoteInput.js';
import type { IndexedRepo, PendingLink } from './indexedRepos.js';
import { blobKey, type RestoreRun } from './restoreRun.js';

export interface RestoreLinks {
  /** Files waiting for their blob (blob key -> files); a backup's index queues all its files here first. */
  pending: Map<string, PendingLink[]>;
  /** `<folder>/<commit>` of every snapshot something was linked into (or would be, in a dry run). */
  linkedCommits: Set<string>;
  /** Links the file now if its blob is in the cache, else queues it for the blob. */
  add(folder: string, link: PendingLink, etag: string): Promise<void>;
  /** The blob is in: links every file waiting for it. */
  flush(folder: string, etag: string, size: number): Promise<void>;
  /**
   * Links still waiting when the stream is over: a plain tar may link a blob
   * that was already in the cache (linked now, if it is); anything else is a
   * file whose blob never came, named once per blob.
   */
  finish(args: { index: Map<string, IndexedRepo> | undefined; vanished: Set<string> }): Promise<void>;
}

export function createRestoreLinks(params: { run: RestoreRun }): RestoreLinks {
  const { run } = params;
  const pending = new Map<string, PendingLink[]>();
  const linkedCommits = new Set<string>();

  const linkFile = async (folder: string, link: PendingLink, etag: string, size: number): Promise<void> => {
    const shown = `${folder}/snapshots/${link.commit}/${link.path}`;
    try {
      // The one locked link step; revision = commit, so it writes no ref (refs are merged last).
      if (!run.dryRun) await fetchBlob({ cacheDir: run.cacheDir, ...link.repo, revision: link.commit, commit: link.commit, path: link.path, etag, size });
      run.report.links += 1;
      linkedCommits.add(`${folder}/${link.commit}`);
      run.touched.add(folder);
    } catch (err) {
      if (!isHubcacheError(err) || err.code === 'E_INTERNAL') throw err;
      run.problem('not-linked', shown, `${quoteInput(shown, 200)}: not linked: ${err.message}`);
    }
  };

  return {
    pending,
    linkedCommits,
    async add(folder, link, etag) {
      const key = blobKey(folder, etag);
      const size = run.available.get(key);
      if (size !== undefined) return linkFile(folder, link, etag, size);
      pending.set(key, [...(pending.get(key) ?? []), link]);
    },
    async flush(folder, etag, size) {
      const key = blobKey(folder, etag);
      const links = pending.get(key) ?? [];
      pending.delete(key);
      for (const link of links) await linkFile(folder, link, etag, size);
    },
    async finish({ index, vanished }) {
      for (const [key, links] of pending) {
        if (run.refusedBlobs.has(key)) continue;
        const slash = key.indexOf('/');
        const folder = key.slice(0, slash);
        const etag = key.slice(slash + 1);
        const first = links[0] as PendingLink;
        const files = links.map((l) => `${l.commit.slice(0, 12)}/${l.path}`).join(', ');
        if (vanished.has(key)) {
          run.onWarning?.(`${folder}/blobs/${etag}: left the source cache during the backup; not restored: ${files}`);
          continue;
        }
        if (!index) {
          const here = await stat(repoPaths({ cacheDir: run.cacheDir, ...first.repo }).blob(etag)).catch(() => undefined);
          if (here?.isFile()) {
            for (const link of links) await linkFile(folder, link, etag, here.size);
            continue;
          }
        }
        run.problem('missing-blob', `${folder}/blobs/${etag}`, `${folder}/blobs/${etag}: not in the archive; not restored: ${files}`);
      }
    },
  };
}
