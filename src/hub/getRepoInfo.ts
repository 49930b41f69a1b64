/**
 * Which commit a revision is and which files it has: GET
 * /api/{type}s/{repo}/revision/{rev}?blobs=true, what huggingface_hub's
 * snapshot_download asks before fetching files one by one.
 */
import { HubcacheError } from '../errors.js';
import type { RepoRef } from '../cache/repoId.js';
import { isCommitHash } from '../cache/revision.js';
import { repoFilePathProblem } from '../cache/repoFilePath.js';
import { hubErrorFromResponse } from './hubErrorFromResponse.js';
import { headerValue, hubRequest, readBodyText } from './hubRequest.js';
import { revisionInfoUrl } from './hubUrls.js';

export interface RepoFileEntry {
  path: string;
  size: number | undefined;
  /** sha256 for LFS files (their blob name), else the git blob id. */
  etag: string | undefined;
}

export interface RepoInfo {
  commit: string;
  files: RepoFileEntry[];
}

export async function getRepoInfo(
  params: RepoRef & {
    endpoint: string;
    token?: string | undefined;
    revision: string;
    signal?: AbortSignal | undefined;
    /** Connect + response head (config.metadataTimeoutMs; default: hubRequest's). */
    metadataTimeoutMs?: number | undefined;
  },
): Promise<RepoInfo> {
  const url = `${revisionInfoUrl(params)}?blobs=true`;
  const what = `list files of ${params.repoId} at ${params.revision}`;
  const response = await hubRequest({
    method: 'GET',
    url,
    token: params.token,
    redirects: 'relative',
    signal: params.signal,
    ...(params.metadataTimeoutMs !== undefined ? { headersTimeoutMs: params.metadataTimeoutMs } : {}),
    what,
  });
  if (response.status >= 400) {
    const bodyText = await readBodyText({ body: response.body, limitBytes: 64 * 1024 }).catch(() => undefined);
    throw hubErrorFromResponse({ status: response.status, url, headers: response.headers, what, hasToken: Boolean(params.token), ...(bodyText ? { bodyText } : {}) });
  }
  const text = await readBodyText({ body: response.body });
  let parsed: { sha?: unknown; siblings?: Array<{ rfilename?: unknown; size?: unknown; blobId?: unknown; lfs?: { sha256?: unknown; size?: unknown } }> };
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new HubcacheError({ code: 'E_HTTP', message: `Cannot ${what}: the answer is not JSON`, data: { url } });
  }
  if (typeof parsed.sha !== 'string' || !isCommitHash(parsed.sha) || !Array.isArray(parsed.siblings)) {
    throw new HubcacheError({ code: 'E_HTTP', message: `Cannot ${what}: the answer has no commit sha or file list`, data: { url } });
  }
  const files: RepoFileEntry[] = [];
  for (const sibling of parsed.siblings) {
    const path = sibling.rfilename;
    // A server must not be able to make us write outside the snapshot.
    if (typeof path !== 'string' || repoFilePathProblem({ path })) {
      throw new HubcacheError({
        code: 'E_INVALID_PATH',
        message: `Cannot ${what}: the server listed an unsafe file name ${JSON.stringify(String(path)).slice(0, 120)}`,
        data: { url },
      });
    }
    const lfsSha = typeof sibling.lfs?.sha256 === 'string' ? sibling.lfs.sha256 : undefined;
    const size = typeof sibling.lfs?.size === 'number' ? sibling.lfs.size : typeof sibling.size === 'number' ? sibling.size : undefined;
    files.push({ path, size, etag: lfsSha ?? (typeof sibling.blobId === 'string' ? sibling.blobId : undefined) });
  }
  return { commit: parsed.sha, files };
}
