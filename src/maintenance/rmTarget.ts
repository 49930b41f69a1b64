/**
 * What `hubcache rm` accepts, parsed and validated before anything is read:
 *
 *   org/name | model/org/name | dataset/org/name | models--org--name   a repo
 *   org/name@REV          a revision (REV: branch, tag, refs/pr/N or commit)
 *   org/name@REV:PATH     one file of that revision
 *   <40-hex commit>       that revision, in whichever repos have it
 */
import { HubcacheError } from '../errors.js';
import { parseRepoSpec, type RepoRef } from '../cache/repoId.js';
import { validateRepoFilePath } from '../cache/repoFilePath.js';
import { isCommitHash, validateRevision } from '../cache/revision.js';

export type RmTarget =
  | { kind: 'repo'; text: string; repo: RepoRef }
  | { kind: 'revision'; text: string; repo: RepoRef; revision: string }
  | { kind: 'file'; text: string; repo: RepoRef; revision: string; path: string }
  | { kind: 'commit'; text: string; commit: string };

export function parseRmTarget(params: { text: string }): RmTarget {
  const text = params.text.trim();
  if (text.length === 0) {
    throw new HubcacheError({ code: 'E_USAGE', message: 'Empty rm target', hint: 'Name a repo (org/name), a revision (org/name@main) or a file (org/name@main:config.json).' });
  }
  if (isCommitHash(text)) return { kind: 'commit', text, commit: text };
  const at = text.indexOf('@');
  if (at < 0) return { kind: 'repo', text, repo: parseRepoSpec({ spec: text }) };
  const repo = parseRepoSpec({ spec: text.slice(0, at) });
  const rest = text.slice(at + 1);
  // Git ref names cannot hold ":", so the first one ends the revision; the path may hold more.
  const colon = rest.indexOf(':');
  const revision = colon < 0 ? rest : rest.slice(0, colon);
  validateRevision({ revision });
  if (colon < 0) return { kind: 'revision', text, repo, revision };
  const path = rest.slice(colon + 1);
  validateRepoFilePath({ path });
  return { kind: 'file', text, repo, revision, path };
}
