/**
 * Turns `--keep` values into pinned revisions: `org/name` pins every revision
 * of the repo, `org/name@REV` pins one (a ref name pins the commit it points
 * to now). Values naming nothing cached are returned so the CLI can say so:
 * a typo must not look like protection.
 */
import { HubcacheError } from '../errors.js';
import { readRef } from '../cache/readRefs.js';
import { repoPaths } from '../cache/repoPaths.js';
import { isCommitHash } from '../cache/revision.js';
import { pinKey, type PinnedRevisions } from './plan.js';
import { parseRmTarget } from './rmTarget.js';
import { access } from 'node:fs/promises';
import { quoteInput } from '../quoteInput.js';

export async function resolvePins(params: { cacheDir: string; specs: string[] }): Promise<{ pinned: PinnedRevisions; unknown: string[] }> {
  const pinned = new Set<string>();
  const unknown: string[] = [];
  for (const spec of params.specs) {
    const target = parseRmTarget({ text: spec });
    if (target.kind !== 'repo' && target.kind !== 'revision') {
      throw new HubcacheError({
        code: 'E_USAGE',
        message: `--keep takes a repo or a revision (org/name, org/name@main, org/name@<commit>), not ${quoteInput(spec)}`,
      });
    }
    const paths = repoPaths({ ...target.repo, cacheDir: params.cacheDir });
    const present = await access(paths.repoDir).then(() => true, () => false);
    if (target.kind === 'repo') {
      pinned.add(pinKey({ repo: paths.folderName }));
      if (!present) unknown.push(spec);
      continue;
    }
    const commit = isCommitHash(target.revision) ? target.revision : await readRef({ refPath: paths.ref(target.revision) });
    if (commit === undefined || !isCommitHash(commit)) {
      unknown.push(spec);
      continue;
    }
    pinned.add(pinKey({ repo: paths.folderName, commit }));
    if (!present) unknown.push(spec);
  }
  return { pinned, unknown };
}
