/**
 * Blob names are the file's etag from the Hub: sha256 (64 hex) for LFS/xet
 * files, git-sha1 (40 hex) for regular ones. The name says how to verify it.
 */
import { HubcacheError } from '../errors.js';
import { quoteInput } from '../quoteInput.js';

export type HashAlgorithm = 'sha256' | 'git-sha1';

/** `W/"abc"` -> `abc`, as huggingface_hub's `_normalize_etag`. */
export function normalizeEtag(params: { etag: string | null | undefined }): string | undefined {
  const raw = params.etag;
  if (raw === null || raw === undefined) return undefined;
  const stripped = raw.trim().replace(/^W\//, '').replace(/^"+|"+$/g, '');
  return stripped.length > 0 ? stripped : undefined;
}

export function hashAlgorithmForBlobName(params: { name: string }): HashAlgorithm | undefined {
  if (/^[0-9a-f]{64}$/.test(params.name)) return 'sha256';
  if (/^[0-9a-f]{40}$/.test(params.name)) return 'git-sha1';
  return undefined;
}

/** An etag becomes a file name: it must not be able to name any other path. */
export function validateEtag(params: { etag: string }): void {
  const { etag } = params;
  if (!/^[A-Za-z0-9_.=+-]{1,256}$/.test(etag) || etag === '.' || etag === '..' || etag.startsWith('.')) {
    throw new HubcacheError({
      code: 'E_HTTP',
      message: `The server sent an etag that cannot be a blob name: ${quoteInput(etag)}`,
      hint: 'Check that HF_ENDPOINT points at a Hugging Face Hub compatible server.',
      data: { etag: etag.slice(0, 80) },
    });
  }
}
