/**
 * Revisions: a 40-hex commit, or a ref name (branch, tag, `refs/pr/1`). Ref
 * names become paths under `refs/`, so they get the same traversal guard as
 * file paths plus git's own forbidden characters.
 */
import { HubcacheError } from '../errors.js';
import { quoteInput } from '../quoteInput.js';

export const DEFAULT_REVISION = 'main';

const COMMIT_RE = /^[0-9a-f]{40}$/;

export function isCommitHash(value: string): boolean {
  return COMMIT_RE.test(value);
}

export function validateRevision(params: { revision: string }): void {
  const { revision } = params;
  const fail = (why: string): never => {
    throw new HubcacheError({
      code: 'E_INVALID_REVISION',
      message: `Invalid revision ${quoteInput(revision)}: ${why}`,
      hint: 'Use a branch or tag name (like "main" or "v1.0"), "refs/pr/N", or a 40-character commit hash.',
      data: { revision },
    });
  };
  if (typeof revision !== 'string' || revision.length === 0) fail('it is empty');
  if (revision.length > 255) fail('it is longer than 255 characters');
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x20\x7f~^:?*[\\]/.test(revision)) fail('it contains a character git does not allow in ref names');
  if (revision.startsWith('/') || revision.endsWith('/')) fail('it starts or ends with "/"');
  for (const segment of revision.split('/')) {
    if (segment === '' || segment === '.' || segment === '..') fail('it has an empty, "." or ".." segment');
    if (segment.startsWith('.') || segment.endsWith('.lock')) fail('a segment starts with "." or ends with ".lock"');
  }
  if (revision.includes('..') || revision.includes('@{')) fail('it contains ".." or "@{"');
}
