/**
 * The head of an HTTP/1.1 answer as rawHttpGet reads it off the socket: the status line and
 * header lines (repeated headers become arrays), and the body length a blob download can take
 * (Content-Length only: chunked and close-delimited bodies go to node:http instead).
 */
export function protocolError(message: string): Error {
  // Marked like a socket failure: a garbled answer is worth one more try on a fresh connection.
  return Object.assign(new Error(message), { code: 'HPE_INVALID_CONSTANT' });
}

export interface Head {
  status: number;
  headers: Record<string, string | string[] | undefined>;
}

export function parseHead(text: string): Head {
  const lines = text.split('\r\n');
  const statusLine = /^HTTP\/1\.[01] (\d{3})(?: |$)/.exec(lines[0] ?? '');
  if (!statusLine) throw protocolError(`not an HTTP/1.1 answer: ${JSON.stringify((lines[0] ?? '').slice(0, 80))}`);
  const headers: Head['headers'] = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw protocolError(`malformed header line ${JSON.stringify(line.slice(0, 80))}`);
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    const before = headers[name];
    headers[name] = before === undefined ? value : Array.isArray(before) ? [...before, value] : [before, value];
  }
  return { status: Number(statusLine[1]), headers };
}

export function bodyLength(head: Head): number | undefined {
  if (head.status === 204 || head.status === 304) return 0;
  if (head.headers['transfer-encoding'] !== undefined) return undefined;
  const value = head.headers['content-length'];
  if (typeof value !== 'string' || !/^\d+$/.test(value)) return undefined;
  return Number(value);
}
