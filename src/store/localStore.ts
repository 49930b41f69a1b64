/**
 * The mirror's store on the local Hub-layout cache: the same blobs, snapshots and refs that
 * `hubcache download` writes and the stack's services mount, so a file the mirror filled is also
 * a file every local tool finds, and a file `sync` put there is one the mirror serves.
 * Mirror-only state (commit-keyed metadata answers, which repos were seen public) lives in
 * hubcache's own folder under `.locks/`, which other tools never read.
 */
import { createReadStream } from 'node:fs';
import { mkdir, readFile, readlink, rename, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { recordAccess } from '../cache/accessLog.js';
import { readRef } from '../cache/readRefs.js';
import { repoFolderName, type RepoRef } from '../cache/repoId.js';
import { HUBCACHE_DIR_NAME, repoPaths } from '../cache/repoPaths.js';
import { lookupCachedFile } from '../cache/resolveCachedFile.js';
import { writeRef } from '../cache/writeRef.js';
import { isCommitHash } from '../cache/revision.js';
import { fetchBlob } from '../download/fetchBlob.js';
import { isHubcacheError } from '../errors.js';
import { BlobFill } from './blobFill.js';
import type { BlobReader, BlobStore, FileFacts, FillParams, FillStatus } from './blobStore.js';

const USE_NOTE_INTERVAL_MS = 60_000;

export interface LocalStoreParams {
  cacheDir: string;
  /** Bytes received from upstream (metrics). */
  onUpstreamBytes?: (bytes: number) => void;
  /** A fill ended (ok or not), for logs; a failed one carries its error and, when typed, the error's code. */
  onFillEnd?: (fill: FillStatus & { error?: string; errorCode?: string }) => void;
  stallTimeoutMs?: number;
}

export function createLocalStore(params: LocalStoreParams): BlobStore {
  const cacheDir = params.cacheDir;
  const stateDir = join(cacheDir, HUBCACHE_DIR_NAME, 'mirror');
  const running = new Map<string, BlobFill>();
  const settling = new Set<Promise<void>>();
  const closing = new AbortController();

  const usesNoted = new Map<string, number>();
  /**
   * A cached file was served: evict (`--budget`, the dashboard) ranks revisions by last use, and a
   * blob's atime does not say it on relatime/noatime mounts. Recorded at most once a minute per
   * revision by this process (the record itself is throttled too, but costs a read to find out).
   */
  function noteUse(repo: RepoRef, commit: string): void {
    const key = `${repoFolderName(repo)}/${commit}`;
    const now = Date.now();
    if (now - (usesNoted.get(key) ?? 0) < USE_NOTE_INTERVAL_MS) return;
    usesNoted.set(key, now);
    void recordAccess({ cacheDir, repoFolder: repoFolderName(repo), commit, at: now });
  }

  function fileReader(path: string, facts: { etag: string; size: number }): BlobReader {
    return {
      etag: facts.etag,
      size: facts.size,
      cached: true,
      stream: ({ start, end }) =>
        end <= start ? Readable.from([]) : createReadStream(path, { start, end: end - 1, highWaterMark: 1024 * 1024 }),
    };
  }

  return {
    async openBlob({ repo, revision, path, facts }) {
      const blobPath = repoPaths({ ...repo, cacheDir }).blob(facts.etag);
      const stats = await stat(blobPath).catch(() => undefined);
      if (!stats?.isFile() || stats.size !== facts.size) return undefined;
      // The mirror's cache is also the stack's cache: make the file findable where local tools look
      // (linked under the etag lock, like every link to an existing blob; best effort, the bytes are here).
      const paths = repoPaths({ ...repo, cacheDir });
      const linked = await readlink(paths.snapshotFile(facts.commit, path)).catch(() => undefined);
      if (linked !== paths.blobLinkTarget(facts.commit, path, facts.etag)) {
        try {
          await fetchBlob({ cacheDir, ...repo, revision, path, commit: facts.commit, etag: facts.etag, size: facts.size });
        } catch (err) {
          // A cleanup deleted the blob while we waited for its lock: it is not here after all (a
          // reader of the old path would answer 200 and then nothing). Any other failure (a
          // read-only cache) leaves the bytes where they are: serve them.
          if (isHubcacheError(err, 'E_NOT_CACHED')) return undefined;
        }
      } else {
        // The snapshot holds the file, so the branch asked for may point at it (only written when it changed).
        await writeRef({ cacheDir, ...repo, revision, commit: facts.commit }).catch(() => undefined);
      }
      noteUse(repo, facts.commit);
      return fileReader(blobPath, facts);
    },

    async runningFill({ repo, etag }) {
      const fill = running.get(`${repoFolderName(repo)}|${etag}`);
      if (fill?.state !== 'running') return undefined;
      return fill.started().then(
        () => fill.reader(),
        () => undefined,
      );
    },

    async fillBlob(fill: FillParams) {
      const key = `${repoFolderName(fill.repo)}|${fill.facts.etag}`;
      const existing = running.get(key);
      if (existing && existing.state === 'running') {
        await existing.started();
        return existing.reader();
      }
      const blobFill = new BlobFill(
        { repo: repoFolderName(fill.repo), path: fill.path, etag: fill.facts.etag, size: fill.facts.size },
        repoPaths({ ...fill.repo, cacheDir }).blob(fill.facts.etag),
      );
      running.set(key, blobFill);
      const work = fetchBlob({
        cacheDir,
        ...fill.repo,
        // The branch's ref is written below, once we know it still names this commit.
        revision: fill.facts.commit,
        path: fill.path,
        commit: fill.facts.commit,
        etag: fill.facts.etag,
        size: fill.facts.size,
        url: fill.url,
        token: fill.token,
        signal: closing.signal,
        // One attempt: readers may already hold bytes of it, so a mismatch must end them, not restart under them.
        integrityAttempts: 1,
        ...(params.stallTimeoutMs !== undefined ? { stallTimeoutMs: params.stallTimeoutMs } : {}),
        onPartial: (partialPath) => blobFill.onPartial(partialPath),
        onWritten: (bytes) => blobFill.onWritten(bytes),
        onReceived: (bytes) => params.onUpstreamBytes?.(bytes),
      }).then(
        async () => {
          if (fill.refIsCurrent?.() ?? true) await writeRef({ cacheDir, ...fill.repo, revision: fill.revision, commit: fill.facts.commit }).catch(() => undefined);
          blobFill.settle();
        },
        (err: unknown) => blobFill.settle(err instanceof Error ? err : new Error(String(err))),
      ).finally(() => {
        if (running.get(key) === blobFill) running.delete(key);
        const error = blobFill.error;
        params.onFillEnd?.({ ...blobFill.snapshot(), ...(error ? { error: error.message, ...(isHubcacheError(error) ? { errorCode: error.code } : {}) } : {}) });
        settling.delete(work);
      });
      settling.add(work);
      await blobFill.started();
      return blobFill.reader();
    },

    async cachedFile({ repo, revision, path }) {
      const found = await lookupCachedFile({ cacheDir, ...repo, revision, path });
      if (found.status !== 'found') return undefined;
      const target = await readlink(found.path).catch(() => undefined);
      const etag = target === undefined ? undefined : basename(target);
      if (etag === undefined) return undefined;
      const facts: FileFacts = { commit: found.commit, etag, size: found.size };
      return { ...facts, reader: fileReader(found.path, facts) };
    },

    async noteRef({ repo, revision, commit }) {
      if (isCommitHash(revision)) return;
      const snapshot = await stat(repoPaths({ ...repo, cacheDir }).snapshot(commit)).catch(() => undefined);
      if (snapshot?.isDirectory()) await writeRef({ cacheDir, ...repo, revision, commit }).catch(() => undefined);
    },

    async cachedRef({ repo, revision }) {
      return readRef({ refPath: repoPaths({ ...repo, cacheDir }).ref(revision) }).catch(() => undefined);
    },

    async getMeta({ key }) {
      return readFile(join(stateDir, key)).catch(() => undefined);
    },

    async putMeta({ key, value }) {
      const path = join(stateDir, key);
      await mkdir(dirname(path), { recursive: true });
      const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
      await writeFile(tmp, value);
      await rename(tmp, path);
    },

    fills() {
      return [...running.values()].map((fill) => fill.snapshot());
    },

    async close() {
      // An aborted fill keeps its partial for a later resume; it never becomes a blob.
      closing.abort();
      await Promise.all([...settling]);
    },
  };
}
