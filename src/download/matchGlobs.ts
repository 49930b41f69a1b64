/**
 * `--include` / `--exclude` patterns with Python fnmatch semantics, as
 * huggingface_hub's `allow_patterns`/`ignore_patterns`: `*` also matches
 * "/", so `*.json` matches `sub/x.json`; a pattern ending in "/" means the
 * whole folder.
 */
function fnmatchToRegExp(pattern: string): RegExp {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '*') out += '.*';
    else if (c === '?') out += '.';
    else if (c === '[') {
      const close = pattern.indexOf(']', i + 2);
      if (close === -1) {
        out += '\\[';
        continue;
      }
      let body = pattern.slice(i + 1, close);
      if (body.startsWith('!')) body = `^${body.slice(1)}`;
      out += `[${body.replace(/\\/g, '\\\\')}]`;
      i = close;
    } else out += c.replace(/[.+^${}()|\\/]/g, '\\$&');
  }
  return new RegExp(`^${out}$`, 's');
}

function normalize(pattern: string): string {
  return pattern.endsWith('/') ? `${pattern}*` : pattern;
}

export function filterByGlobs(params: { paths: string[]; include?: string[]; exclude?: string[] }): string[] {
  const include = (params.include ?? []).map((p) => fnmatchToRegExp(normalize(p)));
  const exclude = (params.exclude ?? []).map((p) => fnmatchToRegExp(normalize(p)));
  return params.paths.filter((path) => (include.length === 0 || include.some((re) => re.test(path))) && !exclude.some((re) => re.test(path)));
}
