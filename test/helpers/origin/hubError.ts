/**
 * Errors the way the Hub sends them: `X-Error-Code` says which (clients branch
 * on it), `X-Error-Message` and a JSON `{ error }` body say why.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

export type HubErrorCode = 'RepoNotFound' | 'RevisionNotFound' | 'EntryNotFound' | 'GatedRepo';

export interface HubError {
  status: number;
  code?: HubErrorCode;
  message: string;
  headers?: Record<string, string>;
}

export function sendHubError(params: { req: IncomingMessage; res: ServerResponse; error: HubError }): void {
  const { req, res, error } = params;
  const body = Buffer.from(JSON.stringify({ error: error.message }));
  const headers: Record<string, string> = {
    ...error.headers,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': String(body.byteLength),
    // Header values must be latin1; messages quote user input (paths, revisions).
    'X-Error-Message': error.message.replace(/[^\x20-\x7e]/g, '?'),
  };
  if (error.code !== undefined) headers['X-Error-Code'] = error.code;
  res.writeHead(error.status, headers);
  res.end(req.method === 'HEAD' ? undefined : body);
}
