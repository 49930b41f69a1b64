/**
 * `hubcache restore`: an archive into the cache, one entry at a time, never
 * trusting it. Two kinds of archive:
 * - a hubcache backup (its first entry is the index): every entry must be one
 *   the index lists, with the size it lists;
 * - a plain tar (or tar.gz) of a hub cache or an HF_HOME, at any depth, as the
 *   seed's `tar czf` made them: repo folders are found by name.
 * Either way: a blob is hashed while it is written and committed only if it
 * matches its name (restoreBlob); a blob already in the cache is kept; each
 * file is linked through fetchBlob's locked link step as soon as its blob is
 * in (so a concurrent gc cannot take an unlinked blob); refs are merged last,
 * never moved to another commit without `force`. A refused entry is named and
 * skipped, the rest restores; a cut stream stops the restore after what was
 * complete. `dryRun` reads and hashes everything and writes nothing.
 */
import { stat } from 'node:fs/promises';
import { HubcacheError, isHubcacheError } from '../errors.js';
import { MAX_REF_BYTES } from '../cache/readRefs.js';
import { parseRepoSpec, repoFolderName, type RepoRef } from '../cache/repoId.js';
import { CACHEDIR_TAG_NAME, repoPaths } from '../cache/repoPaths.js';
import { isCommitHash } from '../cache/revision.js';
import { createRingWriter, type RingTarget, type RingWriter } from '../cache/ringWriter.js';
import { fetchBlob } from '../download/fetchBlob.js';
import { quoteInput } from '../quoteInput.js';
import { END_ENTRY_NAME, INDEX_ENTRY_NAME, MAX_INDEX_BYTES, parseBackupEnd, parseBackupIndex } from './backupIndex.js';
import { blobCopySource, type BlobEntries } from './blobCopySource.js';
import { classifyEntry, type RestoreProblemCode } from './classifyEntry.js';
import { openArchiveInput } from './openArchiveInput.js';
import { indexRepos, type IndexedRepo, type PendingLink } from './indexedRepos.js';
import { mergeRestoredRef, type RestoreRefOutcome } from './mergeRestoredRef.js';
import { restoreBlob, type RestoreBlobParams, type RestoreBlobResult } from './restoreBlob.js';
import { TarReader, type TarEntry } from './tarReader.js';

export type { RestoreProblemCode } from './classifyEntry.js';
export type { RestoreRefOutcome } from './mergeRestoredRef.js';

export interface RestoreCacheParams {
  cacheDir: string;
  /** An archive file, or a stream such as process.stdin; gzip is detected. */
  input: string | NodeJS.ReadableStream;
  /** Only these repos (`org/name`, `dataset/org/name`, `models--org--name`); default: all. */
  repos?: string[];
  dryRun?: boolean;
  /** Move refs that already point to another commit. */
  force?: boolean;
  /** Archive bytes read (uncompressed); the total when known (a plain file). */
  onProgress?: (event: { bytesDone: number; bytesTotal: number | undefined }) => void;
  onWarning?: (message: string) => void;
}

export interface RestoreProblem {
  code: RestoreProblemCode | 'not-in-archive';
  /** The archive entry (or repo file) concerned. */
  entry: string;
  message: string;
}

export interface RestoreReport {
  format: 'hubcache-backup' | 'plain-tar';
  gzip: boolean;
  dryRun: boolean;
  /** Repo folders the archive restored (or would) something into. */
  repos: string[];
  /** written (dry run: verified and missing here), present (kept: already in the cache), refused (hash or size did not match). */
  blobs: { written: number; present: number; refused: number; bytesWritten: number };
  /** Snapshot links made or confirmed (dry run: that would be). */
  links: number;
  refs: RestoreRefOutcome[];
  problems: RestoreProblem[];
  /** Entries that hold nothing to restore (folders, partial downloads, other repos, files outside repos). */
  skipped: number;
  ok: boolean;
  seconds: number;
}

/** Blobs up to this size are read ahead into memory so their commit and links overlap the stream. */
const SMALL_BLOB_BYTES = 1024 * 1024;
/** Small blobs committing at once: bounds memory (8 MiB) and the file operations queued on libuv's pool. */
const SMALL_BLOBS_IN_FLIGHT = 8;

export async function restoreCache(params: RestoreCacheParams): Promise<RestoreReport> {
  const started = performance.now();
  const dryRun = params.dryRun === true;
  const selected = params.repos && params.repos.length > 0 ? new Set(params.repos.map((spec) => repoFolderName(parseRepoSpec({ spec })))) : undefined;
  const input = await openArchiveInput({ source: params.input });
  const reader = new TarReader(input.reader);
  const report: RestoreReport = {
    format: 'plain-tar',
    gzip: input.gzip,
    dryRun,
    repos: [],
    blobs: { written: 0, present: 0, refused: 0, bytesWritten: 0 },
    links: 0,
    refs: [],
    problems: [],
    skipped: 0,
    ok: false,
    seconds: 0,
  };
  const problem = (code: RestoreProblem['code'], entry: string, message: string): void => void report.problems.push({ code, entry, message });
  const touched = new Set<string>();
  const keyOf = (folder: string, etag: string): string => `${folder}/${etag}`;
  /** Blobs in the cache now (committed, kept, or in a dry run verified), with their sizes. */
  const available = new Map<string, number>();
  /** Blobs that failed their hash: their files are named in that problem, not again as missing. */
  const refusedBlobs = new Set<string>();
  const pendingLinks = new Map<string, PendingLink[]>();
  const linkedCommits = new Set<string>();
  const pendingRefs = new Map<string, { folder: string; repo: RepoRef; name: string; commit: string }>();
  let index: Map<string, IndexedRepo> | undefined;
  let vanished = new Set<string>();
  const progress = (): void => params.onProgress?.({ bytesDone: reader.offset, bytesTotal: input.size });

  const linkFile = async (folder: string, link: PendingLink, etag: string, size: number): Promise<void> => {
    const shown = `${folder}/snapshots/${link.commit}/${link.path}`;
    try {
      // The one locked link step; revision = commit, so it writes no ref (refs are merged last).
      if (!dryRun) await fetchBlob({ cacheDir: params.cacheDir, ...link.repo, revision: link.commit, commit: link.commit, path: link.path, etag, size });
      report.links += 1;
      linkedCommits.add(`${folder}/${link.commit}`);
      touched.add(folder);
    } catch (err) {
      if (!isHubcacheError(err) || err.code === 'E_INTERNAL') throw err;
      problem('not-linked', shown, `${quoteInput(shown, 200)}: not linked: ${err.message}`);
    }
  };
  const flushLinks = async (folder: string, etag: string, size: number): Promise<void> => {
    const key = keyOf(folder, etag);
    const links = pendingLinks.get(key) ?? [];
    pendingLinks.delete(key);
    for (const link of links) await linkFile(folder, link, etag, size);
  };

  const prepared = new Map<string, number | undefined>();
  /** Writer and hasher threads for big blobs: started at the first, pointed at each next one, stopped at the end. */
  let ring: RingWriter | undefined;
  const ringFor = async (target: RingTarget): Promise<RingWriter> => {
    if (!ring) ring = createRingWriter(target);
    else await ring.reopen(target);
    return ring;
  };
  const blobEntries: BlobEntries = new Map();
  /** Buffers for small blobs in flight, reused (at most SMALL_BLOBS_IN_FLIGHT + 1 are ever made). */
  const smallBuffers: Buffer[] = [];
  /** Small blobs being committed and linked while the stream moves on (key -> its task). */
  const inFlight = new Map<string, Promise<void>>();
  const settleBlob = async (args: { folder: string; etag: string; name: string; size: number; result: RestoreBlobResult }): Promise<void> => {
    const { folder, etag, name, size, result } = args;
    const key = keyOf(folder, etag);
    if (result.status === 'mismatch') {
      refusedBlobs.add(key);
      report.blobs.refused += 1;
      const users = (pendingLinks.get(key) ?? []).map((l) => `${l.commit.slice(0, 12)}/${l.path}`);
      return problem(
        'hash-mismatch',
        name,
        `${quoteInput(name, 200)}: its content hashes to ${result.digest.slice(0, 16)}…, not its name; refused${users.length > 0 ? ` (file${users.length > 1 ? 's' : ''} not restored: ${users.join(', ')})` : ''}`,
      );
    }
    if (result.status === 'present') report.blobs.present += 1;
    else {
      report.blobs.written += 1;
      report.blobs.bytesWritten += size;
    }
    touched.add(folder);
    available.set(key, size);
    await flushLinks(folder, etag, size);
  };

  const handleEntry = async (entry: TarEntry): Promise<void> => {
    const c = classifyEntry({ entry, indexed: index !== undefined });
    if (c.kind === 'refused') return problem(c.code, entry.name, c.message);
    if (c.kind === 'other') {
      if (index && entry.type !== 'directory' && c.name !== CACHEDIR_TAG_NAME) {
        if (c.name === END_ENTRY_NAME && entry.type === 'file' && entry.size <= MAX_INDEX_BYTES) {
          vanished = new Set(parseBackupEnd({ content: await reader.readContentBuffer() }).vanished.map((v) => keyOf(v.folder, v.blob)));
          return;
        }
        return problem('not-in-index', entry.name, `${quoteInput(entry.name, 200)}: not listed in the archive's index (${c.why})`);
      }
      report.skipped += 1;
      return;
    }
    // Every blob entry of a plain tar, by name, for hard links to it (restored or not).
    if (c.kind === 'blob' && !index) blobEntries.set(c.name, { folder: c.folder, repo: c.repo, etag: c.etag, prefix: c.prefix, size: entry.size });
    if (selected && !selected.has(c.folder)) {
      report.skipped += 1;
      return;
    }
    const indexed = index?.get(c.folder);
    if (index && !indexed) return problem('not-in-index', entry.name, `${quoteInput(entry.name, 200)}: its repo is not listed in the archive's index`);
    if (c.kind === 'blob' || c.kind === 'blob-copy') {
      const key = keyOf(c.folder, c.etag);
      const expected = indexed?.blobs.get(c.etag);
      if (indexed && expected === undefined) return problem('not-in-index', entry.name, `${quoteInput(entry.name, 200)}: this blob is not listed in the archive's index`);
      if (expected !== undefined && expected !== entry.size) {
        refusedBlobs.add(key);
        report.blobs.refused += 1;
        return problem('size-mismatch', entry.name, `${quoteInput(entry.name, 200)}: holds ${entry.size} bytes, the index says ${expected}; refused`);
      }
      if (available.has(key) || refusedBlobs.has(key) || inFlight.has(key)) {
        report.skipped += 1;
        return;
      }
      const restore = (args: { size: number; content: RestoreBlobParams['content']; ring?: RestoreBlobParams['ring']; onContentDone?: () => void }): Promise<void> =>
        restoreBlob({
          cacheDir: params.cacheDir,
          ...c.repo,
          etag: c.etag,
          mtime: entry.mtime,
          atime: entry.atime,
          ...args,
          prepared,
          dryRun,
          onBytes: progress,
          onWaitingLock: (info) => params.onWarning?.(`${entry.name}: waiting ${Math.round(info.waitedMs / 1000)} s for the lock held by ${info.holders.map((h) => `pid ${h.pid}`).join(', ') || 'another process'}`),
        }).then((result) => settleBlob({ folder: c.folder, etag: c.etag, name: entry.name, size: args.size, result }));
      // A blob's commit and links (a dozen file operations, each waiting on libuv's pool) run
      // beside the next entries, a few blobs at a time.
      const inBackground = async (task: Promise<void>, streamDone: Promise<void>): Promise<void> => {
        const tracked = task.finally(() => inFlight.delete(key));
        // Its failure surfaces where the tasks are awaited (here, below or at the end), not as an unhandled rejection.
        tracked.catch(() => undefined);
        inFlight.set(key, tracked);
        // A cut stream fails the task before its bytes are all read: that surfaces here, naming the entry.
        await Promise.race([streamDone, tracked]);
        if (inFlight.size >= SMALL_BLOBS_IN_FLIGHT) await Promise.race(inFlight.values());
      };
      if (c.kind === 'blob-copy') {
        // A second name of a blob (a hard link in a tar of a deduplicated cache): a copy of that
        // blob as restored here, hashed again while it is written.
        const source = await blobCopySource({ entry: c, blobEntries, inFlight, available, keyOf, cacheDir: params.cacheDir, selected });
        if ('refused' in source) {
          refusedBlobs.add(key);
          report.blobs.refused += 1;
          return problem('hard-link', entry.name, `${quoteInput(entry.name, 200)}: ${source.refused}`);
        }
        if (dryRun) return settleBlob({ folder: c.folder, etag: c.etag, name: entry.name, size: source.size, result: { status: 'verified' } });
        return inBackground(restore({ size: source.size, content: source.content }), Promise.resolve());
      }
      const size = entry.size;
      if (dryRun) return restore({ size, content: (onChunk) => reader.readContent(onChunk) });
      if (size > SMALL_BLOB_BYTES) {
        // A big blob: streamed through the ring; the next entry is read once its bytes are.
        let contentDone = (): void => undefined;
        const streamDone = new Promise<void>((resolve) => (contentDone = resolve));
        const task = restore({ size, content: (onChunk) => reader.readContent(onChunk), ring: { fill: (target) => reader.readContentInto(target), ringFor }, onContentDone: contentDone });
        return inBackground(task, streamDone);
      }
      // A small blob: read now into a buffer of the pool (fresh memory per blob cost more in page faults than the copy).
      const buffer = smallBuffers.pop() ?? Buffer.allocUnsafeSlow(SMALL_BLOB_BYTES);
      const bytes = buffer.subarray(0, size);
      try {
        await reader.readContentFully(bytes);
      } catch (err) {
        smallBuffers.push(buffer);
        throw err;
      }
      return inBackground(
        restore({ size, content: async (onChunk) => onChunk(bytes) }).finally(() => smallBuffers.push(buffer)),
        Promise.resolve(),
      );
    }
    if (c.kind === 'link') {
      if (indexed) {
        // Index-led: the index already queued this link; the entry is there for plain `tar xf`.
        if (indexed.files.get(`${c.commit}/${c.path}`) !== c.etag) return problem('not-in-index', entry.name, `${quoteInput(entry.name, 200)}: this link is not listed in the archive's index`);
        return;
      }
      const key = keyOf(c.folder, c.etag);
      const link = { repo: c.repo, commit: c.commit, path: c.path };
      const size = available.get(key);
      if (size !== undefined) return linkFile(c.folder, link, c.etag, size);
      pendingLinks.set(key, [...(pendingLinks.get(key) ?? []), link]);
      return;
    }
    // A ref: a small file holding a commit.
    if (entry.size > MAX_REF_BYTES) return problem('bad-ref', entry.name, `${quoteInput(entry.name, 200)}: ${entry.size} bytes is no ref`);
    const commit = (await reader.readContentBuffer()).toString('utf8').trim();
    if (!isCommitHash(commit)) return problem('bad-ref', entry.name, `${quoteInput(entry.name, 200)}: does not hold a commit hash`);
    if (indexed && indexed.refs[c.name] !== commit) return problem('not-in-index', entry.name, `${quoteInput(entry.name, 200)}: this ref is not listed in the archive's index`);
    pendingRefs.set(`${c.folder}/${c.name}`, { folder: c.folder, repo: c.repo, name: c.name, commit });
  };

  try {
    let entry = await reader.next();
    if (entry && entry.name === INDEX_ENTRY_NAME && entry.type === 'file') {
      if (entry.size > MAX_INDEX_BYTES) {
        throw new HubcacheError({ code: 'E_ARCHIVE', message: `Refusing the archive: its index is ${entry.size} bytes (at most ${MAX_INDEX_BYTES})`, data: { entry: entry.name } });
      }
      const parsed = parseBackupIndex({ content: await reader.readContentBuffer() });
      report.format = 'hubcache-backup';
      index = indexRepos({ index: parsed, selected, pendingLinks, keyOf });
      entry = await reader.next();
    }
    while (entry) {
      await handleEntry(entry);
      progress();
      entry = await reader.next();
    }
  } catch (err) {
    await Promise.allSettled(inFlight.values());
    if (!isHubcacheError(err, 'E_ARCHIVE')) {
      await input.close().catch(() => undefined);
      await ring?.close();
      throw err;
    }
    // A cut or damaged stream: keep what was complete (already committed and linked), name the cut.
    problem(err.data.truncated === true ? 'truncated' : 'archive', String(err.data.entry ?? ''), err.message);
  }
  await input.close().catch(() => undefined);
  await ring?.close();
  // Every small blob committed and linked before the leftovers are judged and refs merged.
  await Promise.all(inFlight.values());

  await finishLinks({ params, pendingLinks, refusedBlobs, vanished, dryRun, problem, linkFile, index });
  for (const ref of pendingRefs.values()) report.refs.push(await mergeRestoredRef({ cacheDir: params.cacheDir, ref, force: params.force === true, dryRun, linkedCommits }));
  for (const ref of report.refs) {
    if (ref.status === 'kept') params.onWarning?.(`${ref.repo}: ref ${ref.ref} kept at ${ref.current?.slice(0, 12)}; the archive has ${ref.commit.slice(0, 12)} (--force moves it)`);
  }
  if (selected) {
    for (const folder of selected) if (!touched.has(folder) && !(index?.has(folder) ?? false)) problem('not-in-archive', folder, `${folder}: not in the archive`);
  }
  report.repos = [...touched].sort();
  report.ok = report.problems.length === 0;
  report.seconds = (performance.now() - started) / 1000;
  return report;
}

/**
 * Links still waiting when the stream is over: a plain tar may link a blob
 * that was already in the cache (linked now, if it is); anything else is a
 * file whose blob never came, named once per blob.
 */
async function finishLinks(args: {
  params: RestoreCacheParams;
  pendingLinks: Map<string, PendingLink[]>;
  refusedBlobs: Set<string>;
  vanished: Set<string>;
  dryRun: boolean;
  index: Map<string, IndexedRepo> | undefined;
  problem: (code: RestoreProblem['code'], entry: string, message: string) => void;
  linkFile: (folder: string, link: PendingLink, etag: string, size: number) => Promise<void>;
}): Promise<void> {
  for (const [key, links] of args.pendingLinks) {
    if (args.refusedBlobs.has(key)) continue;
    const slash = key.indexOf('/');
    const folder = key.slice(0, slash);
    const etag = key.slice(slash + 1);
    const first = links[0] as PendingLink;
    const files = links.map((l) => `${l.commit.slice(0, 12)}/${l.path}`).join(', ');
    if (args.vanished.has(key)) {
      args.params.onWarning?.(`${folder}/blobs/${etag}: left the source cache during the backup; not restored: ${files}`);
      continue;
    }
    if (!args.index) {
      const here = await stat(repoPaths({ cacheDir: args.params.cacheDir, ...first.repo }).blob(etag)).catch(() => undefined);
      if (here?.isFile()) {
        for (const link of links) await args.linkFile(folder, link, etag, here.size);
        continue;
      }
    }
    args.problem('missing-blob', `${folder}/blobs/${etag}`, `${folder}/blobs/${etag}: not in the archive; not restored: ${files}`);
  }
}
