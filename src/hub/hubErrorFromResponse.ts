/**
 * Turns a Hub error response into a typed error. The Hub says what went wrong
 * in `X-Error-Code` (RepoNotFound, RevisionNotFound, EntryNotFound,
 * GatedRepo) and `X-Error-Message`; the status alone is ambiguous (a private
 * repo without a token answers 401 RepoNotFound).
 */
import { HubcacheError, type ErrorCode, type NetworkFailure } from '../errors.js';
import { parseRetryAfter } from './retryPolicy.js';
import { redactUrl } from './redact.js';

export interface HubResponseFacts {
  status: number;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  /** A short piece of the body, if it was read. */
  bodyText?: string;
  /** What we were doing, for the message: "download org/model/config.json". */
  what: string;
  hasToken: boolean;
}

function header(headers: HubResponseFacts['headers'], name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

export function hubErrorFromResponse(facts: HubResponseFacts): HubcacheError {
  const errorCode = header(facts.headers, 'x-error-code');
  const hubMessage = header(facts.headers, 'x-error-message') ?? extractJsonError(facts.bodyText);
  const where = redactUrl({ url: facts.url });
  const data = { status: facts.status, url: where, hubErrorCode: errorCode, hubMessage, repoCommit: header(facts.headers, 'x-repo-commit') };
  const make = (code: ErrorCode, message: string, hint?: string): HubcacheError =>
    new HubcacheError({ code, message: `${message}${hubMessage ? ` (Hub: ${hubMessage})` : ''}`, data, ...(hint ? { hint } : {}) });

  if (errorCode === 'GatedRepo') {
    return make('E_GATED', `Cannot ${facts.what}: the repo is gated`, 'Request access on the repo page on the Hub, then use a token of an account that has access (HF_TOKEN).');
  }
  if (errorCode === 'RepoNotFound') {
    return make(
      'E_REPO_NOT_FOUND',
      `Cannot ${facts.what}: repository not found (HTTP ${facts.status})`,
      facts.hasToken
        ? 'Check the repo id and type (--repo-type dataset?), and that your token can read this repo.'
        : 'Check the repo id and type (--repo-type dataset?). If the repo is private, set HF_TOKEN.',
    );
  }
  if (errorCode === 'RevisionNotFound') {
    return make('E_REVISION_NOT_FOUND', `Cannot ${facts.what}: revision not found`, 'Check the branch, tag or commit given with --revision.');
  }
  if (errorCode === 'EntryNotFound') {
    return make('E_ENTRY_NOT_FOUND', `Cannot ${facts.what}: file not found in the repo at this revision`, 'Check the file name (paths are case-sensitive) and the revision.');
  }
  if (facts.status === 401 || facts.status === 403) {
    return make(
      'E_AUTH',
      `Cannot ${facts.what}: access denied (HTTP ${facts.status})`,
      facts.hasToken ? 'Your token was refused for this repo; check it has read access.' : 'This needs a token: set HF_TOKEN or pass --token.',
    );
  }
  if (facts.status === 404) {
    return make('E_REPO_NOT_FOUND', `Cannot ${facts.what}: not found (HTTP 404 from ${where})`, 'Check the repo id, type and HF_ENDPOINT.');
  }
  if (facts.status === 429 || facts.status >= 500) {
    const err = make('E_NETWORK', `Cannot ${facts.what}: the server answered HTTP ${facts.status}`, 'The Hub or mirror is overloaded or down; try again later.');
    err.data.failure = 'server-busy' satisfies NetworkFailure;
    // Read here, once for every caller: how long the server asks us to wait before the next try.
    const retryAfterMs = parseRetryAfter({ value: header(facts.headers, 'retry-after') });
    if (retryAfterMs !== undefined) err.data.retryAfterMs = retryAfterMs;
    return err;
  }
  return make('E_HTTP', `Cannot ${facts.what}: unexpected HTTP ${facts.status} from ${where}`);
}

function extractJsonError(body: string | undefined): string | undefined {
  if (!body) return undefined;
  try {
    const parsed = JSON.parse(body) as { error?: unknown };
    return typeof parsed.error === 'string' ? parsed.error.slice(0, 300) : undefined;
  } catch {
    return undefined;
  }
}
