/**
 * Clients switch to Xet storage (and bypass the mirror) when they see any Xet hint: Python on an
 * `X-Xet-*` header, a `Link rel="xet-auth"` or a `xetHash` in a tree entry, @huggingface/hub on
 * the `application/vnd.xet-fileinfo+json` content type. The mirror removes every one of them,
 * so clients use plain HTTP through it; `lfs.oid` and `lfs.size` stay (they name the blob).
 */

/** Response headers worth forwarding, minus hop-by-hop ones and every Xet hint. */
export function forwardableHeaders(params: { headers: Record<string, string | string[] | undefined>; keep: readonly string[] }): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of params.keep) {
    const value = params.headers[name];
    const text = Array.isArray(value) ? value.join(', ') : value;
    if (text === undefined || name.startsWith('x-xet-')) continue;
    if (name === 'link') {
      const kept = stripXetLinks(text);
      if (kept !== '') out[name] = kept;
      continue;
    }
    if (name === 'content-type' && /xet/i.test(text)) continue;
    out[name] = text;
  }
  return out;
}

/** `<a>; rel="next", <b>; rel="xet-auth"` -> `<a>; rel="next"`. */
export function stripXetLinks(link: string): string {
  return link
    .split(/,(?=\s*<)/)
    .map((part) => part.trim())
    .filter((part) => part !== '' && !/rel\s*=\s*"?xet-/i.test(part))
    .join(', ');
}

/** Removes `xetHash` keys wherever they are in a JSON value (tree entries, paths-info, siblings). */
export function stripXetJson(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripXetJson);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(value)) {
      if (key === 'xetHash' || key === 'xet_hash') continue;
      out[key] = stripXetJson(inner);
    }
    return out;
  }
  return value;
}
