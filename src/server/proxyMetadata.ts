/**
 * The JSON API through the mirror: repo info, trees, paths-info, refs, and the llama.cpp
 * manifest. Answers keyed by a commit never change, so they are kept forever; answers keyed by a
 * branch are reused for the ref TTL and, when upstream cannot be asked, served at any age (the
 * last known mapping). Trees are fetched whole upstream and answered in one page: llama.cpp reads
 * only the first page, and no client then needs a `Link` back to upstream. Xet hints are removed
 * from every answer (see stripXet).
 */
import { createHash } from 'node:crypto';
import { repoFolderName, type RepoRef } from '../cache/repoId.js';
import { isCommitHash } from '../cache/revision.js';
import { HubcacheError } from '../errors.js';
import { hubErrorFromResponse } from '../hub/hubErrorFromResponse.js';
import { headerValue, hubRequest, readBodyText } from '../hub/hubRequest.js';
import type { Admission } from './accessPolicy.js';
import type { Route } from './parseRoute.js';
import { BodyTooLarge, hubErrorReply, jsonReply, type AppRequest, type Reply } from './reply.js';
import type { ServerContext } from './serverContext.js';
import { stripXetJson, stripXetLinks } from './stripXet.js';
import { upstreamFailureKind, upstreamFailureReply } from './upstreamFailure.js';

type MetaRoute = Extract<Route, { kind: 'info' | 'tree' | 'paths-info' | 'refs' | 'manifest' }>;
type Admitted = Extract<Admission, { ok: true }>;

/** A cached answer: the JSON and when it was fetched. */
interface Envelope {
  fetchedAt: number;
  value: unknown;
}

const MAX_REQUEST_BODY = 1024 * 1024;
const MAX_ANSWER_BYTES = 64 * 1024 * 1024;
const MAX_TREE_PAGES = 10_000;
/** Query parameters that change nothing about the answer. */
const IGNORED_QUERY = new Set(['download', 'noContentDisposition']);

export async function proxyMetadata(params: { ctx: ServerContext; req: AppRequest; route: MetaRoute; admission: Admitted }): Promise<Reply> {
  const { ctx, req, route, admission } = params;
  const wanted = route.kind === 'paths-info' ? 'POST' : 'GET';
  if (req.method !== wanted && !(wanted === 'GET' && req.method === 'HEAD')) {
    return hubErrorReply({ status: 405, message: `Use ${wanted} here` });
  }
  let body: Buffer | undefined;
  if (route.kind === 'paths-info') {
    try {
      body = await req.readBody(MAX_REQUEST_BODY);
    } catch (err) {
      if (err instanceof BodyTooLarge) return hubErrorReply({ status: 413, message: 'Request body too large' });
      throw err;
    }
  }
  const query = new URL(req.rawUrl, 'http://mirror.invalid').searchParams;
  for (const name of [...query.keys()]) if (IGNORED_QUERY.has(name) || (route.kind === 'tree' && name === 'cursor')) query.delete(name);
  query.sort();
  const upstreamUrl = `${ctx.upstream}${upstreamPath(route)}${query.size > 0 ? `?${query}` : ''}`;
  const repoKey = route.kind === 'manifest' ? `models--${route.repoId.replace('/', '--')}` : repoFolderName(route.repo);
  const revision = 'revision' in route ? route.revision : undefined;
  const commitKeyed = revision !== undefined && isCommitHash(revision);
  const cacheKey = `meta/${createHash('sha256')
    .update(`${route.kind}\n${upstreamUrl.slice(ctx.upstream.length)}\n${body?.toString('base64') ?? ''}\n${req.headers['content-type'] ?? ''}`)
    .digest('hex')}`;
  const access = { repoKey, tokenKey: admission.tokenKey, trusted: admission.trusted, scope: 'meta' as const };

  const cached = await readEnvelope({ ctx, key: cacheKey });
  if (cached && (commitKeyed || Date.now() - cached.fetchedAt < ctx.refTtlMs) && ctx.access.mayServeCached({ ...access, offline: false })) {
    return answer({ req, value: cached.value });
  }
  const fromCache = (failure: unknown): Reply => {
    if (cached && ctx.access.mayServeCached({ ...access, offline: true })) return answer({ req, value: cached.value });
    return failure === undefined ? hubErrorReply({ status: 504, message: 'The mirror is offline and has not seen this answer' }) : upstreamFailureReply(failure);
  };
  if (ctx.offline) return fromCache(undefined);

  let value: unknown;
  try {
    value = await ctx.upstreamCalls.run(`${cacheKey}|${admission.tokenKey}`, () =>
      fetchJson({
        ctx,
        url: upstreamUrl,
        method: wanted,
        token: admission.upstreamToken,
        body,
        contentType: req.headers['content-type'],
        tree: route.kind === 'tree',
        userAgent: route.kind === 'manifest' ? 'llama-cpp' : undefined,
      }),
    );
  } catch (err) {
    if (upstreamFailureKind(err) === 'refusal') return upstreamFailureReply(err);
    ctx.metrics.upstreamErrors += 1;
    return fromCache(err);
  }
  ctx.access.remember(access);
  await learnMapping({ ctx, route, repoKey, value });
  await ctx.store.putMeta({ key: cacheKey, value: Buffer.from(JSON.stringify({ fetchedAt: Date.now(), value } satisfies Envelope)) }).catch(() => undefined);
  return answer({ req, value });
}

function answer(params: { req: AppRequest; value: unknown }): Reply {
  const reply = jsonReply({ value: params.value });
  return params.req.method === 'HEAD' ? { ...reply, body: { kind: 'empty' } } : reply;
}

async function readEnvelope(params: { ctx: ServerContext; key: string }): Promise<Envelope | undefined> {
  const raw = await params.ctx.store.getMeta({ key: params.key }).catch(() => undefined);
  if (raw === undefined) return undefined;
  try {
    const parsed = JSON.parse(raw.toString('utf8')) as Envelope;
    return typeof parsed.fetchedAt === 'number' ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** Repo info and refs tell which commit a branch is: pin it for the resolve route too. */
async function learnMapping(params: { ctx: ServerContext; route: MetaRoute; repoKey: string; value: unknown }): Promise<void> {
  const { ctx, route, repoKey, value } = params;
  if (route.kind === 'info' && !(route.revision && isCommitHash(route.revision))) {
    const sha = (value as { sha?: unknown } | null)?.sha;
    if (typeof sha !== 'string' || !isCommitHash(sha)) return;
    const revision = route.revision ?? 'main';
    ctx.refs.set({ repoKey, revision, commit: sha });
    await ctx.store.noteRef({ repo: route.repo, revision, commit: sha });
  }
}

function typePath(repo: RepoRef): string {
  return `/api/${repo.repoType}s/${repo.repoId}`;
}

function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

function upstreamPath(route: MetaRoute): string {
  switch (route.kind) {
    case 'info':
      return `${typePath(route.repo)}${route.revision === undefined ? '' : `/revision/${encodeURIComponent(route.revision)}`}`;
    case 'tree':
      return `${typePath(route.repo)}/tree/${encodeURIComponent(route.revision)}${route.path === '' ? '' : `/${encodePath(route.path)}`}`;
    case 'paths-info':
      return `${typePath(route.repo)}/paths-info/${encodeURIComponent(route.revision)}`;
    case 'refs':
      return `${typePath(route.repo)}/refs`;
    case 'manifest':
      return `/v2/${route.repoId}/manifests/${encodeURIComponent(route.tag)}`;
  }
}

/** GET (or POST) upstream JSON; a tree is read page after page (`Link: rel="next"` on the same host) into one array. */
async function fetchJson(params: {
  ctx: ServerContext;
  url: string;
  method: 'GET' | 'POST';
  token: string | undefined;
  body: Buffer | undefined;
  contentType: string | undefined;
  tree: boolean;
  userAgent: string | undefined;
}): Promise<unknown> {
  const { ctx } = params;
  let url: string | undefined = params.url;
  const pages: unknown[] = [];
  // One budget for the whole answer, however many pages it comes in.
  let budget = MAX_ANSWER_BYTES;
  for (let page = 0; url !== undefined; page++) {
    if (page >= MAX_TREE_PAGES) throw new HubcacheError({ code: 'E_HTTP', message: 'Upstream tree has too many pages', data: { status: 502 } });
    const what = `fetch ${new URL(url).pathname}`;
    const response = await hubRequest({
      method: params.method,
      url,
      token: params.token,
      headers: {
        accept: 'application/json',
        ...(params.userAgent ? { 'user-agent': params.userAgent } : {}),
        ...(params.body !== undefined ? { 'content-type': params.contentType ?? 'application/json' } : {}),
      },
      ...(params.body !== undefined ? { body: params.body.toString('utf8') } : {}),
      redirects: 'relative',
      headersTimeoutMs: ctx.upstreamTimeoutMs,
      what,
    });
    const text = await readBodyText({ body: response.body, limitBytes: budget });
    budget -= Buffer.byteLength(text);
    if (response.status >= 400) {
      // hubErrorFromResponse also reads Retry-After (passed on to the client with a 429).
      throw hubErrorFromResponse({ status: response.status, url: response.url, headers: response.headers, bodyText: text.slice(0, 4096), what, hasToken: Boolean(params.token) });
    }
    if (response.status !== 200) {
      throw new HubcacheError({ code: 'E_HTTP', message: `Upstream answered HTTP ${response.status} to ${what}`, data: { status: 502 } });
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new HubcacheError({ code: 'E_HTTP', message: `Upstream sent invalid JSON for ${what}`, data: { status: 502 } });
    }
    value = stripXetJson(value);
    if (!params.tree) return value;
    if (!Array.isArray(value)) throw new HubcacheError({ code: 'E_HTTP', message: `Upstream tree is not a list (${what})`, data: { status: 502 } });
    pages.push(...value);
    url = nextPage({ link: headerValue(response.headers, 'link'), current: url });
  }
  return pages;
}

/**
 * The `rel="next"` URL of a Link header, always on the upstream host we asked: a Link naming
 * another host (an alias of the Hub, or a hostile one) is followed by its path and query there.
 * Stopping instead would answer a truncated tree, kept forever when keyed by a commit.
 */
function nextPage(params: { link: string | undefined; current: string }): string | undefined {
  if (!params.link) return undefined;
  for (const part of stripXetLinks(params.link).split(/,(?=\s*<)/)) {
    const match = /<([^>]*)>\s*;\s*rel\s*=\s*"?next"?/i.exec(part);
    if (match?.[1] === undefined) continue;
    const next = new URL(match[1], params.current);
    return new URL(`${next.pathname}${next.search}`, params.current).toString();
  }
  return undefined;
}
