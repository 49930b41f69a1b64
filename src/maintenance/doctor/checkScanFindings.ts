/** What the cache scan finds that breaks shared use: refs to missing snapshots, dangling links, partial files. */
import { removeInsideCache } from '../../cache/insideCache.js';
import type { CacheScan } from '../../cache/scanCache.js';
import { isEtagLockHeld } from '../etagLock.js';
import { DEFAULT_PARTIAL_MIN_AGE_MS } from '../planPrune.js';
import { quote, type DoctorCheck } from './doctorCheck.js';

export async function checkScanFindings(params: { cacheDir: string; scan: CacheScan; checks: DoctorCheck[]; now: number }): Promise<void> {
  const { cacheDir, scan, checks } = params;
  for (const repo of scan.repos) {
    for (const warning of repo.warnings) {
      if (warning.code === 'ref-missing-snapshot') {
        checks.push({
          finding: {
            code: 'ref-missing-snapshot',
            path: warning.path,
            why: `${warning.message}: huggingface_hub's scan then hides the whole repo from \`hf cache ls\`, and offline loads of that ref fail`,
            fix: `rm ${quote(warning.path)}   # the next download of that revision writes it again`,
            fixable: true,
          },
          apply: async () => {
            await removeInsideCache({ cacheDir, path: warning.path });
            return 'removed the ref';
          },
        });
      } else if (warning.code === 'dangling-link') {
        checks.push({
          finding: { code: 'dangling-link', path: warning.path, why: `${warning.message}: the file looks cached but cannot be opened`, fix: 'hubcache verify --fix   # then download again', fixable: false },
        });
      }
    }
    for (const partial of repo.incomplete.files) {
      const name = partial.path.slice(partial.path.lastIndexOf('/') + 1);
      const held = await isEtagLockHeld({ cacheDir, repo: repo.folderName, name });
      const young = params.now - partial.lastModified < DEFAULT_PARTIAL_MIN_AGE_MS;
      checks.push({
        finding: {
          code: 'partial-file',
          path: partial.path,
          why: `unfinished download (${partial.bytes} bytes)` + (held ? ', still being written: a process holds its lock' : young ? ', written recently: may still be growing (llama.cpp does not lock)' : ', not locked and not written for a while: abandoned'),
          fix: held ? 'nothing: wait for the download to finish' : young ? 'wait; if it stays, `hubcache prune` removes it' : 'hubcache prune',
          fixable: false,
        },
      });
    }
  }
}
