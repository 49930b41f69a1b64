/**
 * `hubcache restore`: an archive into the cache, one entry at a time, never
 * trusting it. Two kinds of archive:
 * - a hubcache backup (its first entry is the index): every entry must be one
 *   the index lists, with the size it lists;
 * - a plain tar (or tar.gz) of a hub cache or an HF_HOME, at any depth, as the
 *   seed's `tar czf` made them: repo folders are found by name.
 * Either way: a blob is hashed while it is written and committed only if it
 * matches its name (blobEntryRestorer); a blob already in the cache is kept; each
 * file is linked through fetchBlob's locked link step as soon as its blob is
 * in (restoreLinks); refs are merged last (mergeRestoredRef),
 * never moved to another commit without `force`. A refused entry is named and
 * skipped, the rest restores; a cut stream stops the restore after what was
 * complete. `dryRun` reads and hashes everything and writes nothing.
 */
import { HubcacheError, isHubcacheError } from '../errors.js';
import { MAX_REF_BYTES } from '../cache/readRefs.js';
import { parseRepoSpec, repoFolderName, type RepoRef } from '../cache/repoId.js';
import { CACHEDIR_TAG_NAME } from '../cache/repoPaths.js';
import { isCommitHash } from '../cache/revision.js';
import { quoteInput } from '../quoteInput.js';
import { END_ENTRY_NAME, INDEX_ENTRY_NAME, MAX_INDEX_BYTES, parseBackupEnd, parseBackupIndex } from './backupIndex.js';
import { createBlobEntryRestorer } from './blobEntryRestorer.js';
import { classifyEntry } from './classifyEntry.js';
import { openArchiveInput } from './openArchiveInput.js';
import { indexRepos, type IndexedRepo } from './indexedRepos.js';
import { mergeRestoredRef } from './mergeRestoredRef.js';
import { createRestoreLinks } from './restoreLinks.js';
import { blobKey, createRestoreRun, type RestoreReport } from './restoreRun.js';
import { TarReader, type TarEntry } from './tarReader.js';

export type { RestoreProblemCode } from './classifyEntry.js';
export type { RestoreRefOutcome } from './mergeRestoredRef.js';
export type { RestoreProblem, RestoreReport } from './restoreRun.js';

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

export async function restoreCache(params: RestoreCacheParams): Promise<RestoreReport> {
  const started = performance.now();
  const dryRun = params.dryRun === true;
  const selected = params.repos && params.repos.length > 0 ? new Set(params.repos.map((spec) => repoFolderName(parseRepoSpec({ spec })))) : undefined;
  const input = await openArchiveInput({ source: params.input });
  const reader = new TarReader(input.reader);
  const run = createRestoreRun({ cacheDir: params.cacheDir, dryRun, selected, gzip: input.gzip, onWarning: params.onWarning });
  const { report, problem } = run;
  const progress = (): void => params.onProgress?.({ bytesDone: reader.offset, bytesTotal: input.size });
  const links = createRestoreLinks({ run });
  const blobs = createBlobEntryRestorer({ run, links, reader, onProgress: progress });
  const pendingRefs = new Map<string, { folder: string; repo: RepoRef; name: string; commit: string }>();
  let index: Map<string, IndexedRepo> | undefined;
  let vanished = new Set<string>();

  const handleEntry = async (entry: TarEntry): Promise<void> => {
    const c = classifyEntry({ entry, indexed: index !== undefined });
    if (c.kind === 'refused') return problem(c.code, entry.name, c.message);
    if (c.kind === 'other') {
      if (index && entry.type !== 'directory' && c.name !== CACHEDIR_TAG_NAME) {
        if (c.name === END_ENTRY_NAME && entry.type === 'file' && entry.size <= MAX_INDEX_BYTES) {
          vanished = new Set(parseBackupEnd({ content: await reader.readContentBuffer() }).vanished.map((v) => blobKey(v.folder, v.blob)));
          return;
        }
        return problem('not-in-index', entry.name, `${quoteInput(entry.name, 200)}: not listed in the archive's index (${c.why})`);
      }
      report.skipped += 1;
      return;
    }
    // Every blob entry of a plain tar, by name, for hard links to it (restored or not).
    if (c.kind === 'blob' && !index) blobs.remember(c, entry.size);
    if (selected && !selected.has(c.folder)) {
      report.skipped += 1;
      return;
    }
    const indexed = index?.get(c.folder);
    if (index && !indexed) return problem('not-in-index', entry.name, `${quoteInput(entry.name, 200)}: its repo is not listed in the archive's index`);
    if (c.kind === 'blob' || c.kind === 'blob-copy') return blobs.restore({ c, entry, indexed });
    if (c.kind === 'link') {
      if (indexed) {
        // Index-led: the index already queued this link; the entry is there for plain `tar xf`.
        if (indexed.files.get(`${c.commit}/${c.path}`) !== c.etag) return problem('not-in-index', entry.name, `${quoteInput(entry.name, 200)}: this link is not listed in the archive's index`);
        return;
      }
      return links.add(c.folder, { repo: c.repo, commit: c.commit, path: c.path }, c.etag);
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
      index = indexRepos({ index: parsed, selected, pendingLinks: links.pending, keyOf: blobKey });
      entry = await reader.next();
    }
    while (entry) {
      await handleEntry(entry);
      progress();
      entry = await reader.next();
    }
  } catch (err) {
    await blobs.settle();
    if (!isHubcacheError(err, 'E_ARCHIVE')) {
      await input.close().catch(() => undefined);
      await blobs.closeRing();
      throw err;
    }
    // A cut or damaged stream: keep what was complete (already committed and linked), name the cut.
    problem(err.data.truncated === true ? 'truncated' : 'archive', String(err.data.entry ?? ''), err.message);
  }
  await input.close().catch(() => undefined);
  await blobs.closeRing();
  // Every small blob committed and linked before the leftovers are judged and refs merged.
  await blobs.finish();

  await links.finish({ index, vanished });
  for (const ref of pendingRefs.values()) report.refs.push(await mergeRestoredRef({ cacheDir: params.cacheDir, ref, force: params.force === true, dryRun, linkedCommits: links.linkedCommits }));
  for (const ref of report.refs) {
    if (ref.status === 'kept') params.onWarning?.(`${ref.repo}: ref ${ref.ref} kept at ${ref.current?.slice(0, 12)}; the archive has ${ref.commit.slice(0, 12)} (--force moves it)`);
  }
  if (selected) {
    for (const folder of selected) if (!run.touched.has(folder) && !(index?.has(folder) ?? false)) problem('not-in-archive', folder, `${folder}: not in the archive`);
  }
  report.repos = [...run.touched].sort();
  report.ok = report.problems.length === 0;
  report.seconds = (performance.now() - started) / 1000;
  return report;
}
