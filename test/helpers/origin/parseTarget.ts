/**
 * Maps a request path to what it asks for. The Hub's URLs are ambiguous in two
 * ways that real clients rely on, so both are resolved against the fixture:
 * - repo ids may have one segment (`gpt2`) or two (`org/name`);
 * - revisions with slashes (`refs/pr/1`) arrive encoded (`refs%2Fpr%2F1`, as
 *   huggingface_hub and most of @huggingface/hub send them) or raw
 *   (@huggingface/hub's `listFiles` does not encode the revision).
 */
import type { RepoType } from './fixture.js';
import { repoKey, resolveRevision, type PreparedFixture, type PreparedRepo } from './prepareFixture.js';

interface RepoPart {
  repoType: RepoType;
  repoId: string;
  /** Undefined when the fixture has no such repo. */
  repo: PreparedRepo | undefined;
  /** Raw (still percent-encoded) segments after the action word. */
  rest: string[];
}

export type Target =
  | ({ kind: 'file'; endpoint: 'resolve' | 'raw' } & RepoPart)
  | ({ kind: 'info'; withRevision: boolean } & RepoPart)
  | ({ kind: 'tree' } & RepoPart)
  | ({ kind: 'paths-info' } & RepoPart)
  | { kind: 'cdn'; sha256: string }
  | { kind: 'whoami' }
  | { kind: 'unknown' };

const TYPE_BY_PLURAL: Record<string, RepoType> = { models: 'model', datasets: 'dataset', spaces: 'space' };

export const CDN_PREFIX = '/cdn/lfs/';

export function parseTarget(params: { pathname: string; fixture: PreparedFixture }): Target {
  const { pathname, fixture } = params;
  if (pathname.startsWith(CDN_PREFIX)) {
    const sha256 = pathname.slice(CDN_PREFIX.length);
    return /^[0-9a-f]{64}$/.test(sha256) ? { kind: 'cdn', sha256 } : { kind: 'unknown' };
  }
  const segments = pathname.split('/').slice(1);
  if (segments[0] === 'api') {
    if (segments[1] === 'whoami-v2' && segments.length === 2) return { kind: 'whoami' };
    const repoType = TYPE_BY_PLURAL[segments[1] ?? ''];
    if (repoType === undefined) return { kind: 'unknown' };
    const part = splitRepo({ fixture, repoType, segments: segments.slice(2), actions: API_ACTIONS });
    if (part === undefined) return { kind: 'unknown' };
    const { action, ...repoPart } = part;
    if (action === undefined) return repoPart.rest.length === 0 ? { kind: 'info', withRevision: false, ...repoPart } : { kind: 'unknown' };
    if (action === 'revision') return { kind: 'info', withRevision: true, ...repoPart };
    if (action === 'tree') return { kind: 'tree', ...repoPart };
    return { kind: 'paths-info', ...repoPart };
  }
  const plural = TYPE_BY_PLURAL[segments[0] ?? ''];
  const repoType = plural === 'dataset' || plural === 'space' ? plural : 'model';
  const part = splitRepo({ fixture, repoType, segments: repoType === 'model' ? segments : segments.slice(1), actions: FILE_ACTIONS });
  if (part === undefined || part.action === undefined) return { kind: 'unknown' };
  const { action, ...repoPart } = part;
  return { kind: 'file', endpoint: action === 'raw' ? 'raw' : 'resolve', ...repoPart };
}

const API_ACTIONS = new Set(['revision', 'tree', 'paths-info']);
const FILE_ACTIONS = new Set(['resolve', 'raw']);

function splitRepo(params: {
  fixture: PreparedFixture;
  repoType: RepoType;
  segments: string[];
  actions: Set<string>;
}): (RepoPart & { action: string | undefined }) | undefined {
  const { fixture, repoType, segments, actions } = params;
  const decoded = segments.map(safeDecode);
  if (decoded.some((s) => s === undefined)) return undefined;
  const [first, second] = decoded as string[];
  if (first === undefined || first === '') return undefined;
  const pick = (length: 1 | 2) => {
    const repoId = decoded.slice(0, length).join('/');
    const action = segments[length];
    if (action !== undefined && !actions.has(action)) return undefined;
    return { repoType, repoId, repo: fixture.byKey.get(repoKey({ repoType, repoId })), action, rest: segments.slice(length + 1) };
  };
  const twoKnown = second !== undefined && fixture.byKey.has(repoKey({ repoType, repoId: `${first}/${second}` }));
  const oneKnown = fixture.byKey.has(repoKey({ repoType, repoId: first }));
  if (twoKnown) return pick(2);
  if (oneKnown) return pick(1);
  // Unknown repo: still answer with the Hub's repo error, so guess the shape from where the action word sits.
  if (second === undefined || actions.has(segments[1] ?? '')) return pick(1);
  return pick(2);
}

function safeDecode(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/**
 * Takes the revision off the front of `segments`: one encoded segment, or for
 * raw `refs/pr/1` style names the shortest run of segments that names a ref.
 * Returns the revision as asked (even if unknown) and the decoded remainder.
 */
export function splitRevision(params: { repo: PreparedRepo; segments: string[] }): { revision: string; rest: string[] } | undefined {
  const decoded = params.segments.map(safeDecode);
  if (decoded.some((s) => s === undefined)) return undefined;
  const parts = decoded as string[];
  const first = parts[0];
  if (first === undefined || first === '') return undefined;
  if (resolveRevision({ repo: params.repo, revision: first }) === undefined) {
    for (let length = 2; length <= parts.length; length++) {
      const candidate = parts.slice(0, length).join('/');
      if (params.repo.refs.has(candidate)) return { revision: candidate, rest: parts.slice(length) };
    }
  }
  return { revision: first, rest: parts.slice(1) };
}
