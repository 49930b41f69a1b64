/**
 * Raw request path -> what the client asks for. Routing happens on the raw path, segment by
 * segment, so a revision sent encoded (`refs%2Fpr%2F1`, as huggingface_hub and
 * @huggingface/hub send it) stays one segment; a framework that decodes first would split it.
 * Every decoded segment is checked here: no NUL, backslash, `.` or `..` reaches the store.
 */
import { isRepoType, type RepoRef, validateRepoId } from '../cache/repoId.js';
import { repoFilePathProblem } from '../cache/repoFilePath.js';
import { validateRevision } from '../cache/revision.js';
import { isHubcacheError } from '../errors.js';

export type Route =
  | { kind: 'resolve'; repo: RepoRef; revision: string; path: string }
  | { kind: 'info'; repo: RepoRef; revision: string | undefined }
  | { kind: 'tree'; repo: RepoRef; revision: string; path: string }
  | { kind: 'paths-info'; repo: RepoRef; revision: string }
  | { kind: 'refs'; repo: RepoRef }
  | { kind: 'manifest'; repoId: string; tag: string }
  | { kind: 'whoami' }
  | { kind: 'healthz' }
  | { kind: 'metrics' }
  | { kind: 'not-found' }
  | { kind: 'bad-request'; message: string };

/** Longest request target accepted (the Hub's own paths are far shorter). */
export const MAX_PATH_BYTES = 8192;

const API_ACTIONS = new Set(['revision', 'tree', 'paths-info', 'refs']);

class BadRequest extends Error {}

export function parseRoute(params: { rawPath: string }): Route {
  try {
    return parse(params.rawPath);
  } catch (err) {
    if (err instanceof BadRequest) return { kind: 'bad-request', message: err.message };
    if (isHubcacheError(err)) return { kind: 'bad-request', message: err.message };
    throw err;
  }
}

function parse(rawPath: string): Route {
  if (rawPath.length > MAX_PATH_BYTES) throw new BadRequest('Request path too long');
  if (!rawPath.startsWith('/')) throw new BadRequest('Request path must start with "/"');
  const segments = rawPath.slice(1).split('/').map(decodeSegment);
  if (segments.length === 1 && segments[0] === 'healthz') return { kind: 'healthz' };
  if (segments.length === 1 && segments[0] === 'metrics') return { kind: 'metrics' };
  if (segments.length === 2 && segments[0] === 'api' && segments[1] === 'whoami-v2') return { kind: 'whoami' };
  if (segments[0] === 'api') return parseApi(segments.slice(1));
  if (segments[0] === 'v2' && segments.length === 5 && segments[3] === 'manifests') {
    const repoId = `${segments[1]}/${segments[2]}`;
    validateRepoId({ repoId });
    const tag = segments[4] as string;
    if (!/^[A-Za-z0-9_.:-]{1,128}$/.test(tag)) throw new BadRequest(`Invalid manifest tag "${tag.slice(0, 64)}"`);
    return { kind: 'manifest', repoId, tag };
  }
  return parseResolve(segments);
}

/** `{datasets/|spaces/}{repo}/resolve/{rev}/{path...}`; the repo id has one or two segments. */
function parseResolve(segments: string[]): Route {
  let rest = segments;
  let repoType: RepoRef['repoType'] = 'model';
  const head = rest[0] ?? '';
  if ((head === 'datasets' || head === 'spaces' || head === 'models') && rest.length > 3) {
    repoType = head.slice(0, -1) as RepoRef['repoType'];
    rest = rest.slice(1);
  }
  const at = rest[1] === 'resolve' ? 1 : rest[2] === 'resolve' ? 2 : -1;
  if (at < 0) return { kind: 'not-found' };
  const repo = repoOf(repoType, rest.slice(0, at));
  const { revision, remaining } = takeRevision(rest.slice(at + 1));
  const path = remaining.join('/');
  const problem = repoFilePathProblem({ path });
  if (problem) throw new BadRequest(`Invalid file path: ${problem}`);
  return { kind: 'resolve', repo, revision, path };
}

/** `api/{models|datasets|spaces}/{repo}[/revision/{rev} | /tree/{rev}[/{path}] | /paths-info/{rev} | /refs]` */
function parseApi(segments: string[]): Route {
  const typeWord = segments[0] ?? '';
  const singular = typeWord.endsWith('s') ? typeWord.slice(0, -1) : '';
  if (!isRepoType(singular)) return { kind: 'not-found' };
  const rest = segments.slice(1);
  // `org/name/action` wins over `name/action/...`; a bare `org/name` is repo info.
  let idLength: number;
  if (rest.length >= 3 && API_ACTIONS.has(rest[2] as string)) idLength = 2;
  else if (rest.length >= 2 && API_ACTIONS.has(rest[1] as string)) idLength = 1;
  else if (rest.length === 2 || rest.length === 1) idLength = rest.length;
  else return { kind: 'not-found' };
  const repo = repoOf(singular, rest.slice(0, idLength));
  const action = rest[idLength];
  const after = rest.slice(idLength + 1);
  if (action === undefined) return { kind: 'info', repo, revision: undefined };
  if (action === 'refs') return after.length === 0 ? { kind: 'refs', repo } : { kind: 'not-found' };
  const { revision, remaining } = takeRevision(after);
  if (action === 'revision') return remaining.length === 0 ? { kind: 'info', repo, revision } : { kind: 'not-found' };
  if (action === 'paths-info') return remaining.length === 0 ? { kind: 'paths-info', repo, revision } : { kind: 'not-found' };
  const path = remaining.filter((s) => s !== '').join('/');
  if (path !== '') {
    const problem = repoFilePathProblem({ path });
    if (problem) throw new BadRequest(`Invalid tree path: ${problem}`);
  }
  return { kind: 'tree', repo, revision, path };
}

function repoOf(repoType: RepoRef['repoType'], parts: string[]): RepoRef {
  const repoId = parts.join('/');
  validateRepoId({ repoId });
  return { repoType, repoId };
}

/**
 * The revision is one segment, encoded or not (`main`, `refs%2Fpr%2F1`, a commit); clients that do
 * not encode send `refs/pr/1` as three segments, which is recognised by its shape.
 */
function takeRevision(segments: string[]): { revision: string; remaining: string[] } {
  const first = segments[0];
  if (first === undefined || first === '') throw new BadRequest('Expected a revision');
  let take = 1;
  if (first === 'refs' && (segments[1] === 'pr' || segments[1] === 'convert') && segments[2] !== undefined) take = 3;
  const revision = segments.slice(0, take).join('/');
  validateRevision({ revision });
  return { revision, remaining: segments.slice(take) };
}

function decodeSegment(raw: string): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    throw new BadRequest('Malformed percent-encoding in the request path');
  }
  if (decoded.includes('\0')) throw new BadRequest('NUL byte in the request path');
  if (decoded.includes('\\')) throw new BadRequest('Backslash in the request path');
  // A decoded "/" is only legitimate inside a revision (`refs%2Fpr%2F1`); anywhere else it is
  // rechecked by the path guards above after joining. ".." can never name anything.
  if (decoded.split('/').some((part) => part === '..' || part === '.')) throw new BadRequest('"." or ".." in the request path');
  return decoded;
}
