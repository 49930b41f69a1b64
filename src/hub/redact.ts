/** Keeps secrets out of messages: signed query strings and credentials in URLs. */

/** Drops the query string (CDN signatures) and any user:password from a URL for display. */
export function redactUrl(params: { url: string }): string {
  try {
    const url = new URL(params.url);
    url.username = '';
    url.password = '';
    const hadQuery = url.search.length > 0;
    url.search = '';
    return `${url.toString()}${hadQuery ? '?…' : ''}`;
  } catch {
    return '<invalid url>';
  }
}
