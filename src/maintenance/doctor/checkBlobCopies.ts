/** The no-symlink layout where a blob exists: replacing the copy with a link frees its bytes. */
import { lstat, readdir } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { hashAlgorithmForBlobName } from '../../cache/etag.js';
import { hashFile } from '../../cache/hashFile.js';
import type { CacheScan } from '../../cache/scanCache.js';
import { replaceLink } from '../replaceLink.js';
import { quote, type DoctorCheck } from './doctorCheck.js';

export async function checkBlobCopies(params: { cacheDir: string; scan: CacheScan; checks: DoctorCheck[] }): Promise<void> {
  const { cacheDir } = params;
  for (const repo of params.scan.repos) {
    const blobSizes = new Map<number, string[]>();
    const blobsDir = join(repo.repoPath, 'blobs');
    for (const name of await readdir(blobsDir).catch(() => [] as string[])) {
      if (!hashAlgorithmForBlobName({ name })) continue;
      const stats = await lstat(join(blobsDir, name)).catch(() => undefined);
      if (!stats?.isFile()) continue;
      blobSizes.set(stats.size, [...(blobSizes.get(stats.size) ?? []), name]);
    }
    for (const revision of repo.revisions) {
      for (const file of revision.files) {
        if (file.layout !== 'copy') continue;
        const candidates = blobSizes.get(file.size);
        if (!candidates) continue;
        const match = await matchingBlob({ path: file.snapshotPath, candidates });
        if (!match) continue;
        const blobPath = join(blobsDir, match);
        const relTarget = relative(dirname(file.snapshotPath), blobPath);
        params.checks.push({
          finding: {
            code: 'copy-of-blob',
            path: file.snapshotPath,
            why: `a copy of blobs/${match} (${file.size} bytes stored twice); other tools expect a link here`,
            fix: `ln -sfn ${quote(relTarget)} ${quote(file.snapshotPath)}`,
            fixable: true,
          },
          apply: async () => {
            // Only re-link if the copy is still the bytes we hashed and the blob is still there.
            const [now, blob] = await Promise.all([lstat(file.snapshotPath), lstat(blobPath)]);
            if (!now.isFile() || now.size !== file.size || !blob.isFile()) throw new Error('changed since it was checked; run doctor again');
            await replaceLink({ cacheDir, path: file.snapshotPath, text: relTarget });
            return `replaced the copy with a link to blobs/${match}`;
          },
        });
      }
    }
  }
}

async function matchingBlob(params: { path: string; candidates: string[] }): Promise<string | undefined> {
  const digests = new Map<string, string>();
  for (const name of params.candidates) {
    const algorithm = hashAlgorithmForBlobName({ name });
    if (!algorithm) continue;
    let digest = digests.get(algorithm);
    if (digest === undefined) {
      digest = await hashFile({ path: params.path, algorithm }).then((r) => r.digest, () => '');
      digests.set(algorithm, digest);
    }
    if (digest === name) return name;
  }
  return undefined;
}
