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

/**
 * The one rule for what an etag may be, so every place that names or parses a
 * blob agrees: it becomes a file name (`blobs/<etag>`, `.locks/<repo>/<etag>.lock`),
 * so it must not be able to name any other path. Dots are allowed (not leading).
 */
export function isValidEtag(etag: string): boolean {
  return /^[A-Za-z0-9_.=+-]{1,256}$/.test(etag) && !etag.startsWith('.');
}

export function validateEtag(params: { etag: string }): void {
  const { etag } = params;
  if (!isValidEtag(etag)) {
    throw new HubcacheError({
      code: 'E_HTTP',
      message: `The server sent an etag that cannot be a blob name: ${quoteInput(etag)}`,
      hint: 'Check that HF_ENDPOINT points at a Hugging Face Hub compatible server.',
      data: { etag: etag.slice(0, 80) },
    });
  }
}

/** The writer-unique infix hubcache and huggingface_hub >= 1.33 put before `.incomplete` (8 hex). */
const UNIQUE_INFIX_RE = /^(.+)\.[0-9a-f]{8}$/;

/**
 * The etag(s) a file in `blobs/` can be named after, as its writers name them:
 * `<etag>` (a blob), `<etag>.<8 hex>.incomplete` (hubcache, huggingface_hub >= 1.33),
 * `<etag>.incomplete` (older huggingface_hub), `<etag>.downloadInProgress` (llama.cpp).
 * Since etags may hold dots, `<x>.<8 hex>.incomplete` is ambiguous (an etag whose
 * last dot segment is 8 hex, written by an older Python): both readings are
 * returned, and a caller asking "is it held" must check each.
 */
export function etagCandidatesOfBlobFileName(name: string): string[] {
  let stem = name;
  for (const suffix of ['.incomplete', '.downloadInProgress']) {
    if (name.endsWith(suffix)) stem = name.slice(0, -suffix.length);
  }
  const candidates = [stem];
  if (stem !== name && name.endsWith('.incomplete')) {
    const unique = UNIQUE_INFIX_RE.exec(stem);
    if (unique) candidates.unshift(unique[1]!);
  }
  return candidates.filter(isValidEtag);
}
