/**
 * `hubcache backup`: the selected repos as one tar stream, in an order both a
 * plain `tar xf` and `hubcache restore` can use:
 *
 *   .locks/.hubcache/backup-index.json    what follows (repo, revision, file, blob, size, hash)
 *   CACHEDIR.TAG
 *   per repo: blobs/<etag> (each once), snapshots/<commit>/<path> (relative links), refs/<name>
 *   .locks/.hubcache/backup-end.json      blobs that left the cache meanwhile
 *
 * Consistent while the cache is in use: only complete blobs (a partial is
 * never a blob), each read through one open file (a blob removed after we
 * opened it is still read whole); a blob gone before its turn is recorded in
 * the end entry and its links are left out, so links and refs in the archive
 * always agree with its blobs. No hashing here: a blob's name is its hash, and
 * restore checks every byte against it.
 */
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { HubcacheError, fromSystemError } from '../errors.js';
import { CACHEDIR_TAG_CONTENT } from '../cache/ensureCachedirTag.js';
import { CACHEDIR_TAG_NAME, repoPaths } from '../cache/repoPaths.js';
import { END_ENTRY_NAME, INDEX_ENTRY_NAME, INDEX_FORMAT, type BackupEnd, type BackupIndex } from './backupIndex.js';
import { planBackup, type BackupBlob } from './planBackup.js';
import { TarWriter } from './tarWriter.js';

export interface BackupCacheParams {
  cacheDir: string;
  /** A file path (written under a temp name, renamed when complete) or a stream such as process.stdout. */
  output: string | Writable;
  /** Repos to back up, each optionally `@<ref or commit>` (see planBackup); empty = the whole cache. */
  selection?: string[];
  gzip?: boolean;
  /** Blob bytes copied so far, of the total planned. */
  onProgress?: (event: { bytesDone: number; bytesTotal: number }) => void;
  onWarning?: (message: string) => void;
}

export interface BackupReport {
  repos: number;
  revisions: number;
  files: number;
  blobs: number;
  /** Blob bytes in the archive. */
  bytes: number;
  /** Archive bytes before compression. */
  archiveBytes: number;
  vanished: BackupEnd['vanished'];
  warnings: string[];
  seconds: number;
}

export async function backupCache(params: BackupCacheParams): Promise<BackupReport> {
  const started = performance.now();
  const plan = await planBackup({ cacheDir: params.cacheDir, selection: params.selection ?? [] });
  for (const warning of plan.warnings) params.onWarning?.(warning);
  const index: BackupIndex = { format: INDEX_FORMAT, version: 1, createdAt: new Date().toISOString(), repos: plan.repos };
  const now = Date.now() / 1000;
  const writer = await TarWriter.open({ target: params.output, gzip: params.gzip === true });
  const vanished: BackupEnd['vanished'] = [];
  let bytesDone = 0;
  try {
    await writer.writeFile({ name: INDEX_ENTRY_NAME, mode: 0o644, mtime: Math.floor(now), content: Buffer.from(`${JSON.stringify(index, null, 1)}\n`) });
    await writer.writeFile({ name: CACHEDIR_TAG_NAME, mode: 0o644, mtime: Math.floor(now), content: Buffer.from(CACHEDIR_TAG_CONTENT) });
    for (const repo of plan.repos) {
      const paths = repoPaths({ cacheDir: params.cacheDir, repoType: repo.repoType, repoId: repo.repoId });
      const written = new Set<string>();
      for (const blob of plan.blobs) {
        if (blob.folder !== repo.folder) continue;
        const copied = await copyBlob({
          writer,
          blob,
          onBytes: (n) => {
            bytesDone += n;
            params.onProgress?.({ bytesDone, bytesTotal: plan.bytes });
          },
        });
        if (copied) written.add(blob.name);
        else {
          vanished.push({ folder: blob.folder, blob: blob.name });
          params.onWarning?.(`${blob.folder}/blobs/${blob.name}: left the cache during the backup; it and the files linking to it are not in the archive`);
        }
      }
      for (const revision of repo.revisions) {
        for (const file of revision.files) {
          if (!written.has(file.blob)) continue;
          await writer.writeHeader({
            name: `${repo.folder}/snapshots/${revision.commit}/${file.path}`,
            type: 'symlink',
            size: 0,
            mode: 0o777,
            mtime: Math.floor(now),
            linkname: paths.blobLinkTarget(revision.commit, file.path, file.blob),
          });
        }
      }
      for (const [name, commit] of Object.entries(repo.refs)) {
        await writer.writeFile({ name: `${repo.folder}/refs/${name}`, mode: 0o644, mtime: Math.floor(now), content: Buffer.from(commit) });
      }
    }
    await writer.writeFile({ name: END_ENTRY_NAME, mode: 0o644, mtime: Math.floor(now), content: Buffer.from(`${JSON.stringify({ vanished } satisfies BackupEnd)}\n`) });
    await writer.finish();
  } catch (err) {
    await writer.abort();
    throw err;
  }
  return {
    repos: plan.repos.length,
    revisions: plan.repos.reduce((n, r) => n + r.revisions.length, 0),
    files: plan.repos.reduce((n, r) => n + r.revisions.reduce((m, v) => m + v.files.length, 0), 0),
    blobs: plan.blobs.length - vanished.length,
    bytes: bytesDone,
    archiveBytes: writer.bytesWritten,
    vanished,
    warnings: plan.warnings,
    seconds: (performance.now() - started) / 1000,
  };
}

/**
 * Opens a blob without touching its access time where the kernel lets us (we own it): `evict`
 * ranks revisions by last access, and a backup reading every blob must not make them all look used.
 */
async function openNoAtime(path: string): Promise<FileHandle> {
  try {
    return await open(path, constants.O_RDONLY | constants.O_NOATIME);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') throw err;
    return open(path, 'r');
  }
}

/**
 * One blob: header with the size of the file we opened, then its bytes (the
 * writer reads them from the handle). False when the blob was gone before we could open it.
 */
async function copyBlob(args: { writer: TarWriter; blob: BackupBlob; onBytes: (n: number) => void }): Promise<boolean> {
  const { writer, blob } = args;
  let handle: FileHandle;
  try {
    handle = await openNoAtime(blob.path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw fromSystemError({ err, path: blob.path, action: 'read a blob for the backup' });
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) throw new HubcacheError({ code: 'E_CACHE_DAMAGED', message: `${blob.path} is not a file`, data: { path: blob.path } });
    // The header promises stats.size bytes; restore compares it with the index and the hash.
    const size = stats.size;
    // Whole milliseconds, as `ls` shows them; restore puts both times back.
    await writer.writeHeader({
      name: `${blob.folder}/blobs/${blob.name}`,
      type: 'file',
      size,
      mode: 0o644,
      mtime: Math.floor(stats.mtimeMs) / 1000,
      atime: Math.floor(stats.atimeMs) / 1000,
    });
    try {
      await writer.copyFile({ source: handle, size, onBytes: args.onBytes });
    } catch (err) {
      throw fromSystemError({ err, path: blob.path, action: 'read a blob for the backup' });
    }
    await writer.endContent(size);
    return true;
  } finally {
    await handle.close();
  }
}
