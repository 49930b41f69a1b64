/**
 * Service names and link names become folder and file names under
 * `<hf_home>/links/`, so each must be exactly one harmless path segment. A
 * leading "." is refused too: link swaps make their temps in
 * `links/.hubcache-tmp/`, which must never be taken for a service, and hidden
 * names would hide links from `ls`.
 */

/** Also a valid docker compose service name. */
export const SAFE_NAME_PATTERN = '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$';
const SAFE_NAME_RE = new RegExp(SAFE_NAME_PATTERN);

export const ENV_NAME_PATTERN = '^[A-Z_][A-Z0-9_]*$';
const ENV_NAME_RE = new RegExp(ENV_NAME_PATTERN);

/** Why `name` cannot be a link or service name, or undefined when it can. */
export function safeNameProblem(params: { name: string }): string | undefined {
  const { name } = params;
  if (name.length === 0) return 'it is empty';
  if (name.includes('/') || name.includes('\\')) return 'it contains a path separator (it must be a single name, not a path)';
  if (name === '.' || name === '..') return 'it names a folder ("." or "..")';
  if (name.includes('\0')) return 'it contains a NUL byte';
  if (name.startsWith('.')) return 'it starts with "."';
  if (name.length > 128) return 'it is longer than 128 characters';
  if (!SAFE_NAME_RE.test(name)) return 'only letters, digits, "_", "." and "-" are allowed, starting with a letter, digit or "_"';
  return undefined;
}

export function envNameProblem(params: { name: string }): string | undefined {
  return ENV_NAME_RE.test(params.name) ? undefined : 'an environment variable name is upper case letters, digits and "_", not starting with a digit';
}
