/**
 * The `--filter` and `--sort` language of `hubcache ls`, kept pure so the
 * server's dashboard can use the same rules.
 *
 *   size>1GB  size<=500MB  accessed>30d  modified<7d  type=dataset
 *   name~qwen  name=org/model  ref=main  incomplete  warnings
 */
import { HubcacheError } from '../errors.js';
import type { CachedRepo } from './scanCache.js';
import { REPO_TYPES, formatRepoRef } from './repoId.js';
import { quoteInput } from '../quoteInput.js';

export type RepoPredicate = (repo: CachedRepo, now: number) => boolean;

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1e3, kb: 1e3, m: 1e6, mb: 1e6, g: 1e9, gb: 1e9, t: 1e12, tb: 1e12, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, tib: 1024 ** 4 };
const AGE_UNITS: Record<string, number> = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 7 * 86400e3, mo: 30 * 86400e3, y: 365 * 86400e3 };

function compare(op: string, a: number, b: number): boolean {
  switch (op) {
    case '>':
      return a > b;
    case '>=':
      return a >= b;
    case '<':
      return a < b;
    case '<=':
      return a <= b;
    default:
      return a === b;
  }
}

function bad(expr: string, why: string): never {
  throw new HubcacheError({
    code: 'E_USAGE',
    message: `Invalid filter ${quoteInput(expr)}: ${why}`,
    hint: 'Examples: size>1GB, accessed>30d (not used for 30 days), modified<7d, type=dataset, name~qwen, ref=main, incomplete, warnings.',
  });
}

export function parseRepoFilter(params: { expr: string }): RepoPredicate {
  const expr = params.expr.trim();
  if (expr === 'incomplete') return (r) => r.incomplete.files.length > 0;
  if (expr === 'warnings') return (r) => r.warnings.length > 0;
  const match = /^(\w+)\s*(>=|<=|>|<|=|~)\s*(.+)$/.exec(expr);
  if (!match) bad(expr, 'expected FIELD OP VALUE');
  const [, field, op, rawValue] = match as unknown as [string, string, string, string];
  const value = rawValue.trim();
  switch (field) {
    case 'size': {
      const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(value);
      const unit = SIZE_UNITS[(m?.[2] ?? '').toLowerCase()];
      if (!m || unit === undefined || op === '~') bad(expr, 'size takes a number with an optional unit (kB, MB, GB, GiB...)');
      const bytes = Number(m[1]) * unit;
      return (r) => compare(op, r.sizeOnDisk, bytes);
    }
    case 'accessed':
    case 'modified': {
      const m = /^(\d+(?:\.\d+)?)\s*(s|m|h|d|w|mo|y)$/i.exec(value);
      const unit = AGE_UNITS[(m?.[2] ?? '').toLowerCase()];
      if (!m || unit === undefined || op === '~') bad(expr, `${field} takes an age like 30d, 12h, 2w`);
      const ageMs = Number(m[1]) * unit;
      // "accessed>30d" reads as "last access is more than 30 days old".
      return (r, now) => compare(op, now - (field === 'accessed' ? r.lastAccessed : r.lastModified), ageMs);
    }
    case 'type': {
      if (op !== '=') bad(expr, 'type takes "="');
      // `datasets` reads as `dataset`; anything else would silently match nothing.
      const type = value.replace(/s$/, '');
      if (!(REPO_TYPES as readonly string[]).includes(type)) bad(expr, `type is one of ${REPO_TYPES.join(', ')}`);
      return (r) => r.repoType === type;
    }
    case 'name':
    case 'repo':
      if (op === '~') return (r) => formatRepoRef(r).toLowerCase().includes(value.toLowerCase());
      if (op === '=') return (r) => r.repoId === value || formatRepoRef(r) === value;
      return bad(expr, 'name takes "=" or "~"');
    case 'ref':
      if (op !== '=') bad(expr, 'ref takes "="');
      return (r) => Object.prototype.hasOwnProperty.call(r.refs, value);
    default:
      return bad(expr, `unknown field ${quoteInput(field)}`);
  }
}

export type RepoSortKey = 'size' | 'accessed' | 'modified' | 'name';

/** `size` (largest first), `accessed`/`modified` (most recent first), `name`; `:asc`/`:desc` flips. */
export function sortRepos(params: { repos: CachedRepo[]; sort: string }): CachedRepo[] {
  const [key, dir] = params.sort.split(':') as [string, string | undefined];
  const defaults: Record<string, { get: (r: CachedRepo) => number | string; desc: boolean }> = {
    size: { get: (r) => r.sizeOnDisk, desc: true },
    accessed: { get: (r) => r.lastAccessed, desc: true },
    modified: { get: (r) => r.lastModified, desc: true },
    name: { get: (r) => formatRepoRef(r).toLowerCase(), desc: false },
  };
  const rule = defaults[key];
  if (!rule || (dir !== undefined && dir !== 'asc' && dir !== 'desc')) {
    throw new HubcacheError({ code: 'E_USAGE', message: `Invalid sort ${quoteInput(params.sort)}`, hint: 'Use size, accessed, modified or name, optionally with :asc or :desc.' });
  }
  const desc = dir === undefined ? rule.desc : dir === 'desc';
  return [...params.repos].sort((a, b) => {
    const x = rule.get(a);
    const y = rule.get(b);
    const c = x < y ? -1 : x > y ? 1 : 0;
    return desc ? -c : c;
  });
}
