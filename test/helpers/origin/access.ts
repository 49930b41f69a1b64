/**
 * Who may see what, with the real Hub's answers (see huggingface_hub's
 * `hf_raise_for_status`, which is written against them):
 * - a token the Hub does not know: 401 "Invalid credentials in Authorization
 *   header" with no X-Error-Code, on every route, even for public repos;
 * - a missing or private repo: 401 RepoNotFound when anonymous (the Hub will
 *   not confirm the repo exists), 404 RepoNotFound when authenticated;
 * - a gated repo: metadata is public, files are not: 401 GatedRepo when
 *   anonymous, 403 GatedRepo when the user is not on the authorized list.
 */
import type { IncomingMessage } from 'node:http';
import type { HubError } from './hubError.js';
import type { PreparedRepo } from './prepareFixture.js';

export type Caller = 'anonymous' | 'authenticated' | 'invalid-token';

/** With no token configured, any bearer token is accepted (tests that do not care about auth). */
export function callerOf(params: { req: IncomingMessage; token: string | undefined }): Caller {
  const header = params.req.headers.authorization;
  if (header === undefined || header.trim() === '') return 'anonymous';
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (match === null) return 'invalid-token';
  if (params.token === undefined || match[1] === params.token) return 'authenticated';
  return 'invalid-token';
}

export const INVALID_TOKEN_ERROR: HubError = { status: 401, message: 'Invalid credentials in Authorization header' };

export function repoAccessError(params: { caller: Caller; repo: PreparedRepo | undefined }): HubError | undefined {
  const { caller, repo } = params;
  if (caller === 'invalid-token') return INVALID_TOKEN_ERROR;
  if (repo !== undefined && (!repo.private || caller === 'authenticated')) return undefined;
  return caller === 'anonymous'
    ? { status: 401, code: 'RepoNotFound', message: 'Invalid username or password.' }
    : { status: 404, code: 'RepoNotFound', message: 'Repository not found' };
}

export function gatedFileError(params: { caller: Caller; repo: PreparedRepo; hubUrl: string }): HubError | undefined {
  const { caller, repo } = params;
  if (repo.gated === false) return undefined;
  const what = `${repo.repoType} ${repo.repoId}`;
  if (caller !== 'authenticated') {
    return {
      status: 401,
      code: 'GatedRepo',
      message: `Access to ${what} is restricted. You must have access to it and be authenticated to access it. Please log in.`,
    };
  }
  if (repo.gated === 'denied') {
    const page = `${params.hubUrl}/${repo.repoType === 'model' ? '' : `${repo.repoType}s/`}${repo.repoId}`;
    return {
      status: 403,
      code: 'GatedRepo',
      message: `Access to ${what} is restricted and you are not in the authorized list. Visit ${page} to ask for access.`,
    };
  }
  return undefined;
}
