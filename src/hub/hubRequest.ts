/**
 * One HTTP exchange with the Hub (or a mirror, or the CDN it redirects to).
 * Redirects are followed here, by hand, so the token is sent only to the
 * host it was meant for: a redirect to another host (the LFS CDN) drops it.
 * Network failures become E_NETWORK errors marked retryable.
 */
import { Agent, request, type Dispatcher } from 'undici';
import { HubcacheError } from '../errors.js';
import { redactUrl } from './redact.js';

export type RedirectMode = 'none' | 'relative' | 'all';

export interface HubRequestParams {
  method: 'GET' | 'HEAD' | 'POST';
  url: string;
  token?: string | undefined;
  headers?: Record<string, string>;
  body?: string;
  /** `relative`: follow only Locations without a host (renamed repos), like huggingface_hub's HEAD. */
  redirects: RedirectMode;
  signal?: AbortSignal | undefined;
  /** Time to wait for response headers. */
  headersTimeoutMs?: number;
  /** Longest silence between two body chunks before the transfer counts as stalled. */
  bodyTimeoutMs?: number;
  /** What we were doing, for error messages. */
  what: string;
}

export interface HubResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Dispatcher.ResponseData['body'];
  /** The URL that answered (after redirects). */
  url: string;
  /** For a redirect response that was not followed: where it pointed. */
  location: string | undefined;
}

const USER_AGENT = `hubcache/0.1; node/${process.versions.node}`;

// One keep-alive pool for the process; big files use several connections to one host.
const dispatcher = new Agent({ connections: 64, keepAliveTimeout: 10_000, pipelining: 1 });

export function headerValue(headers: HubResponse['headers'], name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

const RETRYABLE_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
  'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH',
]);

/** Maps socket-level failures to E_NETWORK; keeps typed errors as they are. */
export function networkError(params: { err: unknown; url: string; what: string }): unknown {
  const { err } = params;
  if (err instanceof HubcacheError) return err;
  const anyErr = err as { code?: string; name?: string; message?: string; cause?: { code?: string } };
  if (anyErr?.name === 'AbortError') return err;
  const code = anyErr?.code ?? anyErr?.cause?.code;
  if (code === 'ENOTFOUND' || (code !== undefined && RETRYABLE_CODES.has(code)) || anyErr?.name === 'SocketError') {
    const host = safeHost(params.url);
    const reason =
      code === 'ENOTFOUND'
        ? `cannot resolve host ${host}`
        : code === 'ECONNREFUSED'
          ? `connection refused by ${host}`
          : code === 'UND_ERR_BODY_TIMEOUT'
            ? 'the transfer stalled'
            : code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT'
              ? `${host} did not answer in time`
              : `connection to ${host} failed (${code ?? anyErr?.message ?? 'socket error'})`;
    return new HubcacheError({
      code: 'E_NETWORK',
      message: `Cannot ${params.what}: ${reason}`,
      hint: 'Check the network and HF_ENDPOINT; cached files stay usable with --offline.',
      data: { url: redactUrl({ url: params.url }), errno: code, retryable: code !== 'ENOTFOUND' },
      cause: err,
    });
  }
  return err;
}

function safeHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

export async function hubRequest(params: HubRequestParams): Promise<HubResponse> {
  let url = params.url;
  const firstOrigin = new URL(url).origin;
  for (let hop = 0; hop <= 10; hop++) {
    const sameOrigin = new URL(url).origin === firstOrigin;
    const headers: Record<string, string> = { 'user-agent': USER_AGENT, ...params.headers };
    // The token goes only to the host the caller addressed; CDNs on other hosts never see it.
    if (params.token && sameOrigin) headers.authorization = `Bearer ${params.token}`;
    let response: Dispatcher.ResponseData;
    try {
      response = await request(url, {
        method: params.method,
        headers,
        ...(params.body !== undefined ? { body: params.body } : {}),
        dispatcher,
        signal: params.signal,
        headersTimeout: params.headersTimeoutMs ?? 30_000,
        bodyTimeout: params.bodyTimeoutMs ?? 60_000,
      });
    } catch (err) {
      throw networkError({ err, url, what: params.what });
    }
    const status = response.statusCode;
    const location = headerValue(response.headers, 'location');
    if (status >= 300 && status < 400 && location) {
      const next = new URL(location, url).toString();
      // "Relative" means a Location without scheme or host, as huggingface_hub follows it (renamed
      // repos). An absolute Location, even to this same host, is where the file's bytes are: the
      // metadata (X-Repo-Commit, X-Linked-*) is on this response and must not be skipped.
      const isRelative = !/^[a-z][a-z0-9+.-]*:|^\/\//i.test(location);
      if (params.redirects === 'all' || (params.redirects === 'relative' && isRelative)) {
        // Drain the redirect body so the connection can be reused.
        await response.body.dump().catch(() => undefined);
        url = next;
        continue;
      }
      return { status, headers: response.headers, body: response.body, url, location: next };
    }
    return { status, headers: response.headers, body: response.body, url, location: undefined };
  }
  throw new HubcacheError({ code: 'E_HTTP', message: `Cannot ${params.what}: too many redirects`, data: { url: redactUrl({ url: params.url }) } });
}

/** Reads a small body as text (error bodies, JSON API answers), capped to protect memory. */
export async function readBodyText(params: { body: HubResponse['body']; limitBytes?: number }): Promise<string> {
  const limit = params.limitBytes ?? 64 * 1024 * 1024;
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of params.body) {
    total += (chunk as Buffer).length;
    if (total > limit) {
      params.body.destroy();
      throw new HubcacheError({ code: 'E_HTTP', message: `Response body larger than ${limit} bytes` });
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
