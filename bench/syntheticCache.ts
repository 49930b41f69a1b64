/**
 * Builds a large synthetic hub cache fast (sync fs, tiny blobs): N repos x
 * R revisions x F files, a fifth of them in subfolders. By default half of
 * the files keep their content between consecutive revisions, as real model
 * updates do; `changedPerRevision` sets how many files change instead.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

export interface SyntheticCacheParams {
  cacheDir: string;
  repos: number;
  revisionsPerRepo: number;
  filesPerRevision: number;
  /** Files whose content changes from one revision to the next (default: every odd one, half). */
  changedPerRevision?: number;
}

export function buildSyntheticCache(params: SyntheticCacheParams): { links: number; blobs: number; bytes: number } {
  let links = 0;
  let blobs = 0;
  let bytes = 0;
  mkdirSync(params.cacheDir, { recursive: true });
  writeFileSync(join(params.cacheDir, 'CACHEDIR.TAG'), 'Signature: 8a477f597d28d172789f06886806bc55\n');
  for (let r = 0; r < params.repos; r++) {
    const repoDir = join(params.cacheDir, `models--bench-org--model-${r}`);
    const blobsDir = join(repoDir, 'blobs');
    mkdirSync(blobsDir, { recursive: true });
    mkdirSync(join(repoDir, 'refs'), { recursive: true });
    for (let v = 0; v < params.revisionsPerRepo; v++) {
      const commit = createHash('sha1').update(`${r}:${v}`).digest('hex');
      if (v === params.revisionsPerRepo - 1) writeFileSync(join(repoDir, 'refs', 'main'), commit);
      for (let f = 0; f < params.filesPerRevision; f++) {
        // Unchanged files keep their content across revisions (shared blobs), the others change.
        const changes = params.changedPerRevision === undefined ? f % 2 === 1 : f < params.changedPerRevision;
        const content = Buffer.from(`repo ${r} file ${f} ${changes ? `rev ${v}` : 'stable'} ${'x'.repeat(f * 37)}`);
        const etag = createHash('sha256').update(content).digest('hex');
        const blobPath = join(blobsDir, etag);
        try {
          writeFileSync(blobPath, content, { flag: 'wx' });
          blobs += 1;
          bytes += content.length;
        } catch {
          // Shared with an earlier revision: the blob is already there.
        }
        const rel = f % 5 === 0 ? `sub/dir${f % 3}/file-${f}.bin` : `file-${f}.bin`;
        const linkPath = join(repoDir, 'snapshots', commit, rel);
        mkdirSync(dirname(linkPath), { recursive: true });
        symlinkSync(relative(dirname(linkPath), blobPath), linkPath);
        links += 1;
      }
    }
  }
  return { links, blobs, bytes };
}
