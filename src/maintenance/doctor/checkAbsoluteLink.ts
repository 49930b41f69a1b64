/** An absolute link works only where the cache is mounted at the same path; inside the cache it can be rewritten relative. */
import { readlink } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, sep } from 'node:path';
import { replaceLink } from '../replaceLink.js';
import { quote, type DoctorCheck } from './doctorCheck.js';

export async function checkAbsoluteLink(params: { cacheDir: string; rootReal: string; path: string; checks: DoctorCheck[] }): Promise<void> {
  const { cacheDir, path } = params;
  const target = await readlink(path).catch(() => undefined);
  if (target === undefined || !isAbsolute(target)) return;
  // The same place seen from this mount: a target under the root's real path maps back under cacheDir.
  const mapped = isWithinOrSame(params.rootReal, target) ? join(cacheDir, relative(params.rootReal, target)) : target;
  const inside = isWithinOrSame(cacheDir, mapped);
  const relTarget = relative(dirname(path), mapped);
  params.checks.push({
    finding: {
      code: 'absolute-link',
      path,
      why: `absolute link to ${target}: containers that mount the cache at another path cannot resolve it`,
      fix: inside ? `ln -sfn ${quote(relTarget)} ${quote(path)}` : 'it points outside the cache: replace it with the file it points to, or remove it',
      fixable: inside,
    },
    ...(inside
      ? {
          apply: async () => {
            await replaceLink({ cacheDir, path, text: relTarget });
            return `link rewritten as ${relTarget}`;
          },
        }
      : {}),
  });
}

function isWithinOrSame(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}
