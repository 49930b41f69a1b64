/** CACHEDIR.TAG at the root: without it backup tools copy the whole cache. */
import { chmod, chown, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assertInsideCache } from '../../cache/insideCache.js';
import { CACHEDIR_TAG_NAME, CACHEDIR_TAG_SIGNATURE } from '../../cache/repoPaths.js';
import type { SharedGroup } from '../resolveGroup.js';
import { cacheTempDir, replaceViaTemp } from '../../cache/replaceViaTemp.js';
import { quote, type DoctorCheck } from './doctorCheck.js';

export async function checkCachedirTag(params: { cacheDir: string; group: SharedGroup; checks: DoctorCheck[] }): Promise<void> {
  const path = join(params.cacheDir, CACHEDIR_TAG_NAME);
  const text = await readFile(path, 'utf8').catch(() => undefined);
  if (text !== undefined && text.startsWith(CACHEDIR_TAG_SIGNATURE)) return;
  params.checks.push({
    finding: {
      code: 'missing-cachedir-tag',
      path,
      why: text === undefined ? 'without it, backup tools (tar --exclude-caches, borg, restic) copy the whole cache' : 'it does not start with the CACHEDIR.TAG signature, so backup tools ignore it',
      fix: `printf 'Signature: 8a477f597d28d172789f06886806bc55\\n# This file is a cache directory tag created by hubcache.\\n' > ${quote(path)}`,
      fixable: true,
    },
    apply: async () => {
      await assertInsideCache({ cacheDir: params.cacheDir, path });
      await replaceViaTemp({
        tempDir: cacheTempDir(params.cacheDir),
        dest: path,
        write: async (tmp) => {
          await writeFile(tmp, `${CACHEDIR_TAG_SIGNATURE}\n# This file is a cache directory tag created by hubcache.\n# For information about cache directory tags see https://bford.info/cachedir/\n`);
          // Born right for the shared group, so the walk's own checks have nothing to say about it.
          await chown(tmp, -1, params.group.gid);
          await chmod(tmp, 0o664);
        },
      });
      return 'wrote CACHEDIR.TAG';
    },
  });
}
