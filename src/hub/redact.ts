/** Keeps secrets out of messages: tokens in text, and signed query strings in URLs. */

export function redactToken(params: { text: string; token: string | undefined }): string {
  let text = params.text.replace(/hf_[A-Za-z0-9]{8,}/g, 'hf_***');
  if (params.token && params.token.length >= 4) text = text.split(params.token).join('***');
  return text;
}

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
