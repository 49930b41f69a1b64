/**
 * HEAD on the resolve URL: which commit the revision is, the file's etag
 * (its blob name), its size, and where its bytes are (the CDN for LFS files).
 * Like huggingface_hub: identity encoding (the size must be the real one),
 * same-host redirects followed (renamed repos), cross-host ones reported.
 */
import { HubcacheError } from '../errors.js';
import type { RepoRef } from '../cache/repoId.js';
import { normalizeEtag, validateEtag } from '../cache/etag.js';
import { isCommitHash } from '../cache/revision.js';
import { hubErrorFromResponse } from './hubErrorFromResponse.js';
import { headerValue, hubRequest } from './hubRequest.js';
import { resolveUrl } from './hubUrls.js';
import { DEFAULT_ETAG_TIMEOUT_MS } from '../config.js';

export interface FileMetadata {
  commit: string;
  etag: string;
  size: number;
  /** Where to GET the bytes (the CDN URL for LFS files). */
  downloadUrl: string;
}

export interface GetFileMetadataParams extends RepoRef {
  endpoint: string;
  token?: string | undefined;
  revision: string;
  path: string;
  signal?: AbortSignal | undefined;
  /** Connect + response head (default 10 s, huggingface_hub's HF_HUB_ETAG_TIMEOUT default). */
  timeoutMs?: number;
}

export async function getFileMetadata(params: GetFileMetadataParams): Promise<FileMetadata> {
  const url = resolveUrl(params);
  const what = `get ${params.repoId}/${params.path} at ${params.revision}`;
  const response = await hubRequest({
    method: 'HEAD',
    url,
    token: params.token,
    headers: { 'accept-encoding': 'identity' },
    redirects: 'relative',
    signal: params.signal,
    headersTimeoutMs: params.timeoutMs ?? DEFAULT_ETAG_TIMEOUT_MS,
    what,
  });
  await response.body.dump().catch(() => undefined);
  if (response.status >= 400) {
    throw hubErrorFromResponse({ status: response.status, url: response.url, headers: response.headers, what, hasToken: Boolean(params.token) });
  }
  const commit = headerValue(response.headers, 'x-repo-commit');
  const etag = normalizeEtag({ etag: headerValue(response.headers, 'x-linked-etag') ?? headerValue(response.headers, 'etag') });
  const sizeText = headerValue(response.headers, 'x-linked-size') ?? headerValue(response.headers, 'content-length');
  const size = sizeText === undefined ? NaN : Number(sizeText);
  const protocolError = (why: string): HubcacheError =>
    new HubcacheError({
      code: 'E_HTTP',
      message: `Cannot ${what}: ${why}`,
      hint: 'The endpoint does not look like a Hugging Face Hub (check HF_ENDPOINT, proxies and firewalls).',
      data: { url },
    });
  if (!commit || !isCommitHash(commit)) throw protocolError('the server sent no X-Repo-Commit header');
  if (!etag) throw protocolError('the server sent no ETag');
  validateEtag({ etag });
  if (!Number.isSafeInteger(size) || size < 0) throw protocolError('the server sent no usable size');
  const downloadUrl = response.location ?? response.url;
  return { commit, etag, size, downloadUrl };
}
