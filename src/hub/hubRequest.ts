/**
 * One HTTP exchange with the Hub (or a mirror, or the CDN it redirects to).
 * Redirects are followed here, by hand, so the token is sent only to the
 * host it was meant for: a redirect to another host (the LFS CDN) drops it.
 * Network failures become E_NETWORK errors of a known kind (errors.ts NETWORK_FAILURES).
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { HubcacheError, type NetworkFailure } from '../errors.js';
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

/** A response body: read it (async iteration), or drop it (`dump`) so the connection can be reused. */
export interface HubBody extends AsyncIterable<Buffer> {
  dump(): Promise<void>;
  destroy(error?: Error): void;
}

export interface HubResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: HubBody;
  /** The URL that answered (after redirects). */
  url: string;
  /** For a redirect response that was not followed: where it pointed. */
  location: string | undefined;
}

export const USER_AGENT = `hubcache/0.1; node/${process.versions.node}`;

// Node's own HTTP client: loading undici cost 0.1-0.4 s of start-up and ~20 MB of memory per
// process, and `MODEL_PATH=$(hubcache download ...)` pays start-up on every container start.
// One keep-alive pool per scheme for the process.
const httpAgent = new HttpAgent({ keepAlive: true, maxSockets: 64 });
const httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: 64 });
// An idle pooled connection must not keep the process alive after the work is done
// (the agent refs a socket again when it reuses it).
for (const agent of [httpAgent, httpsAgent]) agent.on('free', (socket: { unref(): void }) => socket.unref());

export function headerValue(headers: HubResponse['headers'] | IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

/** Socket-level error codes, by the kind of network failure they are (errors.ts decides what each kind means). */
const FAILURE_BY_ERRNO: Record<string, NetworkFailure> = {
  ENOTFOUND: 'host-not-found',
  ECONNREFUSED: 'refused',
  ENETUNREACH: 'no-route',
  EHOSTUNREACH: 'no-route',
  EAI_AGAIN: 'no-route',
  ETIMEDOUT: 'no-answer',
  HUBCACHE_HEADERS_TIMEOUT: 'no-answer',
  ECONNRESET: 'reset',
  EPIPE: 'reset',
  ERR_STREAM_PREMATURE_CLOSE: 'reset',
  HPE_INVALID_CONSTANT: 'reset',
  HPE_UNEXPECTED_CONTENT_LENGTH: 'reset',
  HUBCACHE_STALLED: 'stalled',
};

/** Maps socket-level failures to E_NETWORK of a known kind; keeps typed errors as they are. */
export function networkError(params: { err: unknown; url: string; what: string }): unknown {
  const { err } = params;
  if (err instanceof HubcacheError) return err;
  const anyErr = err as { code?: string; name?: string; message?: string; cause?: { code?: string } };
  if (anyErr?.name === 'AbortError') return err;
  const code = anyErr?.code ?? anyErr?.cause?.code;
  const failure: NetworkFailure | undefined = code !== undefined ? FAILURE_BY_ERRNO[code] : anyErr?.message === 'aborted' ? 'reset' : undefined;
  if (failure === undefined) return err;
  const host = safeHost(params.url);
  const reason =
    failure === 'host-not-found'
      ? `cannot resolve host ${host}`
      : failure === 'refused'
        ? `connection refused by ${host}`
        : failure === 'stalled'
          ? 'the transfer stalled'
          : code === 'HUBCACHE_HEADERS_TIMEOUT'
            ? `${host} did not answer in time`
            : `connection to ${host} failed (${code ?? anyErr?.message ?? 'socket error'})`;
  return new HubcacheError({
    code: 'E_NETWORK',
    message: `Cannot ${params.what}: ${reason}`,
    hint: 'Check the network and HF_ENDPOINT; cached files stay usable with --offline.',
    data: { url: redactUrl({ url: params.url }), errno: code, failure },
    cause: err,
  });
}

function safeHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

/** Redirects followed at most, by every client here. */
export const MAX_REDIRECTS = 10;

/** The request headers of one hop: the token goes only to the origin the caller addressed, so CDNs on other hosts never see it. */
export function hopHeaders(params: { url: string; firstUrl: string; token: string | undefined; headers: Record<string, string> | undefined }): Record<string, string> {
  const headers: Record<string, string> = { 'user-agent': USER_AGENT, ...params.headers };
  if (params.token && new URL(params.url).origin === new URL(params.firstUrl).origin) headers.authorization = `Bearer ${params.token}`;
  return headers;
}

export function tooManyRedirects(params: { firstUrl: string; what: string }): HubcacheError {
  return new HubcacheError({ code: 'E_HTTP', message: `Cannot ${params.what}: too many redirects`, data: { url: redactUrl({ url: params.firstUrl }) } });
}

export async function hubRequest(params: HubRequestParams): Promise<HubResponse> {
  let url = params.url;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const headers = hopHeaders({ url, firstUrl: params.url, token: params.token, headers: params.headers });
    let response: IncomingMessage;
    try {
      response = await send({ ...params, url, headers });
    } catch (err) {
      throw networkError({ err, url, what: params.what });
    }
    const status = response.statusCode ?? 0;
    const responseHeaders = response.headers as HubResponse['headers'];
    const location = headerValue(responseHeaders, 'location');
    const body = wrapBody(response);
    if (status >= 300 && status < 400 && location) {
      const next = new URL(location, url).toString();
      // "Relative" means a Location without scheme or host, as huggingface_hub follows it (renamed
      // repos). An absolute Location, even to this same host, is where the file's bytes are: the
      // metadata (X-Repo-Commit, X-Linked-*) is on this response and must not be skipped.
      const isRelative = !/^[a-z][a-z0-9+.-]*:|^\/\//i.test(location);
      if (params.redirects === 'all' || (params.redirects === 'relative' && isRelative)) {
        // Drain the redirect body so the connection can be reused.
        await body.dump().catch(() => undefined);
        url = next;
        continue;
      }
      return { status, headers: responseHeaders, body, url, location: next };
    }
    return { status, headers: responseHeaders, body, url, location: undefined };
  }
  throw tooManyRedirects({ firstUrl: params.url, what: params.what });
}

function timeoutError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

/** One request; resolves with the response head, the body still to read. */
function send(params: HubRequestParams & { headers: Record<string, string> }): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const target = new URL(params.url);
    const isHttps = target.protocol === 'https:';
    const headersTimeoutMs = params.headersTimeoutMs ?? 30_000;
    const bodyTimeoutMs = params.bodyTimeoutMs ?? 60_000;
    let response: IncomingMessage | undefined;
    const request = (isHttps ? httpsRequest : httpRequest)(
      target,
      {
        method: params.method,
        headers: params.body !== undefined ? { 'content-type': 'application/json', ...params.headers } : params.headers,
        agent: isHttps ? httpsAgent : httpAgent,
        ...(params.signal ? { signal: params.signal } : {}),
      },
      (res) => {
        // From here on, silence on the socket means a stalled body.
        response = res;
        request.setTimeout(bodyTimeoutMs);
        resolve(res);
      },
    );
    // One listener for both phases: setTimeout(ms, callback) would stack a listener per call.
    request.setTimeout(headersTimeoutMs);
    request.on('timeout', () => {
      if (response) {
        // Fail the body with the real reason, not the generic "aborted" of a destroyed socket.
        response.destroy(timeoutError('HUBCACHE_STALLED', `no data for ${bodyTimeoutMs} ms`));
        request.destroy();
      } else {
        request.destroy(timeoutError('HUBCACHE_HEADERS_TIMEOUT', `no answer in ${headersTimeoutMs} ms`));
      }
    });
    request.on('error', reject);
    request.end(params.body);
  });
}

/**
 * The body as an async iterable of chunks. A connection that breaks mid-body
 * surfaces as an error from the iteration (never as a silent early end), so
 * the caller's retry logic sees it.
 */
function wrapBody(response: IncomingMessage): HubBody {
  return {
    [Symbol.asyncIterator]: () => {
      const iterator = response[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
      return {
        next: async () => {
          const step = await iterator.next();
          if (step.done && !response.complete) {
            throw Object.assign(new Error('the connection closed before the whole body arrived'), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
          }
          return step;
        },
        return: async () => (iterator.return ? iterator.return() : { done: true, value: undefined }),
      };
    },
    dump: () =>
      new Promise<void>((resolve) => {
        // Always read to the end (even a HEAD's empty body): only then is the socket free for reuse.
        response.resume();
        if (response.readableEnded || response.destroyed) {
          resolve();
          return;
        }
        response.once('end', resolve);
        response.once('close', resolve);
      }),
    destroy: (error?: Error) => {
      response.destroy(error);
    },
  };
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
