/**
 * `hubcache ls` without the argument parser: loading commander and building
 * the program cost more CPU than a scan of a small cache, and `ls` runs in
 * scripts and health checks. Only the plainest command lines take this path:
 * `ls` first, then the options below, each value a separate argument that does
 * not start with "-". Anything else (help, an unknown or repeated option, an
 * `--opt=value`, a missing value) returns undefined, and commander parses the
 * line as always, with its own messages. test/cli/lsFastPath.test.ts checks
 * both paths give the same options and the same output.
 */
import type { CommonOptions } from './context.js';
import type { LsOptions } from './commands/ls.js';

const FLAGS: Record<string, 'json' | 'quiet' | 'revisions' | 'files'> = {
  '--json': 'json',
  '-q': 'quiet',
  '--quiet': 'quiet',
  '--revisions': 'revisions',
  '--files': 'files',
};

const VALUES: Record<string, 'cacheDir' | 'sort' | 'manifest'> = {
  '--cache-dir': 'cacheDir',
  '--sort': 'sort',
  '-f': 'manifest',
  '--manifest': 'manifest',
};

/** The options commander would give `ls` for `argv` (process.argv without node and the script), or undefined. */
export function parseLsFastPath(params: { argv: string[] }): (LsOptions & CommonOptions) | undefined {
  const { argv } = params;
  if (argv[0] !== 'ls') return undefined;
  const options: LsOptions & CommonOptions = { sort: 'name', filter: [] };
  const seen = new Set<string>();
  for (let i = 1; i < argv.length; i++) {
    const arg = argv[i] as string;
    const flag = FLAGS[arg];
    if (flag !== undefined) {
      options[flag] = true;
      continue;
    }
    const key = VALUES[arg] ?? (arg === '--filter' ? 'filter' : undefined);
    const value = argv[i + 1];
    if (key === undefined || value === undefined || value.startsWith('-')) return undefined;
    i += 1;
    if (key === 'filter') {
      options.filter.push(value);
      continue;
    }
    // commander keeps the last of repeated values; rare enough to leave to it.
    if (seen.has(key)) return undefined;
    seen.add(key);
    options[key] = value;
  }
  return options;
}
