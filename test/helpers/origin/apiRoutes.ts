/**
 * The JSON API clients use to learn what to download:
 * - `GET /api/{type}s/{repo}[/revision/{rev}]`: repo info with `sha` and
 *   `siblings` (`?blobs=true` adds size/blobId/lfs; `expand=` narrows the
 *   answer to `_id`, `id` and the listed fields, as the Hub does).
 * - `GET /api/{type}s/{repo}/tree/{rev}[/{path}]`: entries, paginated with a
 *   `Link: <absolute url>; rel="next"` header carrying an opaque `cursor`.
 * - `POST /api/{type}s/{repo}/paths-info/{rev}`: JSON (@huggingface/hub) or
 *   form-encoded (huggingface_hub) `paths` + `expand`; unknown paths are left out.
 * Gating never hides metadata; only file contents are gated.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { callerOf, INVALID_TOKEN_ERROR, repoAccessError } from './access.js';
import type { OriginContext } from './context.js';
import { sendHubError, type HubError } from './hubError.js';
import { splitRevision, type Target } from './parseTarget.js';
import {
  lastCommitOf,
  resolveRevision,
  type PreparedCommit,
  type PreparedFile,
  type PreparedRepo,
} from './prepareFixture.js';

type RepoTarget = Extract<Target, { kind: 'info' | 'tree' | 'paths-info' }>;

export function sendJson(params: { req: IncomingMessage; res: ServerResponse; value: unknown; headers?: Record<string, string> }): void {
  const body = Buffer.from(JSON.stringify(params.value));
  params.res.writeHead(200, {
    ...params.headers,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': String(body.byteLength),
  });
  params.res.end(params.req.method === 'HEAD' ? undefined : body);
}

export async function handleApi(params: {
  ctx: OriginContext;
  req: IncomingMessage;
  res: ServerResponse;
  target: RepoTarget;
  url: URL;
}): Promise<void> {
  const { ctx, req, res, target } = params;
  const fail = (error: HubError) => sendHubError({ req, res, error });
  const wantedMethod = target.kind === 'paths-info' ? 'POST' : 'GET';
  if (req.method !== wantedMethod && !(wantedMethod === 'GET' && req.method === 'HEAD')) {
    return fail({ status: 405, message: 'Method not allowed' });
  }
  const denied = repoAccessError({ caller: callerOf({ req, token: ctx.token }), repo: target.repo });
  if (denied) return fail(denied);
  const repo = target.repo!;

  let revision = 'main';
  let rest: string[] = [];
  if (target.kind !== 'info' || target.withRevision) {
    const split = splitRevision({ repo, segments: target.rest });
    if (split === undefined) return fail({ status: 400, message: 'Expected a revision' });
    ({ revision, rest } = split);
  }
  const commit = resolveRevision({ repo, revision });
  if (commit === undefined) return fail({ status: 404, code: 'RevisionNotFound', message: `Invalid rev id: ${revision}` });

  switch (target.kind) {
    case 'info':
      if (rest.length > 0) return fail({ status: 404, message: 'Not found' });
      return sendJson({ req, res, value: repoInfo({ repo, commit, query: params.url.searchParams }) });
    case 'tree':
      return sendTree({ ctx, req, res, repo, commit, path: rest.join('/'), url: params.url });
    case 'paths-info': {
      if (rest.length > 0) return fail({ status: 404, message: 'Not found' });
      const body = await readPathsInfoBody(req).catch((error: Error) => error);
      if (body instanceof Error) return fail({ status: 400, message: body.message });
      const entries = body.paths.flatMap((path) => {
        const entry = entryJson({ repo, commit, path: path.replace(/\/+$/, ''), expand: body.expand, xet: ctx.xet });
        return entry === undefined ? [] : [entry];
      });
      return sendJson({ req, res, value: entries });
    }
  }
}

export function handleWhoami(params: { ctx: OriginContext; req: IncomingMessage; res: ServerResponse }): void {
  const { req, res } = params;
  const caller = callerOf({ req, token: params.ctx.token });
  if (caller === 'invalid-token') return sendHubError({ req, res, error: INVALID_TOKEN_ERROR });
  if (caller === 'anonymous') return sendHubError({ req, res, error: { status: 401, message: 'Invalid username or password.' } });
  sendJson({ req, res, value: { type: 'user', name: 'hubcache-test', fullname: 'hubcache test user', auth: { type: 'access_token', accessToken: { role: 'read' } } } });
}

function repoInfo(params: { repo: PreparedRepo; commit: PreparedCommit; query: URLSearchParams }): Record<string, unknown> {
  const { repo, commit, query } = params;
  const blobs = ['true', '1'].includes(query.get('blobs') ?? '');
  const files = [...commit.files.values()].sort(byPath);
  const siblings = files.map((file) =>
    blobs
      ? {
          rfilename: file.path,
          size: file.blob.size,
          blobId: file.oid,
          lfs: file.lfs ? { sha256: file.blob.sha256, size: file.blob.size, pointerSize: file.pointer?.byteLength } : undefined,
        }
      : { rfilename: file.path },
  );
  const unique = new Map(files.map((f) => [f.etag, f.blob.size]));
  const oldest = [...repo.commits.values()].map((c) => c.date).sort()[0] ?? commit.date;
  const full: Record<string, unknown> = {
    _id: repo.objectId,
    id: repo.repoId,
    ...(repo.repoType === 'model' ? { modelId: repo.repoId } : {}),
    author: repo.repoId.includes('/') ? repo.repoId.split('/')[0] : undefined,
    sha: commit.id,
    lastModified: commit.date,
    createdAt: oldest,
    private: repo.private,
    gated: repo.gated === false ? false : 'manual',
    disabled: false,
    downloads: 0,
    likes: 0,
    tags: [],
    ...(repo.repoType === 'space' ? { sdk: 'static', runtime: { stage: 'RUNNING' } } : {}),
    siblings,
    usedStorage: [...unique.values()].reduce((a, b) => a + b, 0),
  };
  const expand = [...query.getAll('expand'), ...query.getAll('expand[]')];
  if (expand.length === 0) return full;
  const narrowed: Record<string, unknown> = { _id: full._id, id: full.id };
  for (const key of expand) if (key in full) narrowed[key] = full[key];
  return narrowed;
}

function sendTree(params: {
  ctx: OriginContext;
  req: IncomingMessage;
  res: ServerResponse;
  repo: PreparedRepo;
  commit: PreparedCommit;
  path: string;
  url: URL;
}): void {
  const { ctx, req, res, repo, commit, path, url } = params;
  if (path !== '' && !commit.dirs.has(path)) {
    return sendHubError({
      req,
      res,
      error: { status: 404, code: 'EntryNotFound', message: `${path} does not exist on "${commit.id}"`, headers: { 'X-Repo-Commit': commit.id } },
    });
  }
  const recursive = isTrue(url.searchParams.get('recursive'));
  const expand = isTrue(url.searchParams.get('expand'));
  const prefix = path === '' ? '' : `${path}/`;
  const paths = [...commit.dirs.keys(), ...commit.files.keys()]
    .filter((p) => p.startsWith(prefix) && (recursive || !p.slice(prefix.length).includes('/')))
    .sort();

  const offset = decodeCursor(url.searchParams.get('cursor'));
  if (offset === undefined) return sendHubError({ req, res, error: { status: 400, message: 'Invalid cursor' } });
  const page = paths.slice(offset, offset + ctx.treePageSize);
  const headers: Record<string, string> = {};
  if (offset + page.length < paths.length) {
    const next = new URL(url.pathname + url.search, ctx.hubUrl);
    next.searchParams.set('cursor', Buffer.from(`offset:${offset + page.length}`).toString('base64url'));
    // @huggingface/hub only follows absolute links, and wants whitespace after ';'.
    headers.Link = `<${next.href}>; rel="next"`;
  }
  const value = page.map((p) => entryJson({ repo, commit, path: p, expand, xet: ctx.xet })!);
  sendJson({ req, res, value, headers });
}

/** Tree / paths-info entry, in the Hub's key order. */
function entryJson(params: { repo: PreparedRepo; commit: PreparedCommit; path: string; expand: boolean; xet?: boolean }): Record<string, unknown> | undefined {
  const { repo, commit, path, expand } = params;
  const file = commit.files.get(path);
  const dirOid = commit.dirs.get(path);
  if (file === undefined && dirOid === undefined) return undefined;
  const last = expand ? lastCommitOf({ repo, commit, path }) : undefined;
  const lastCommit = last && { id: last.id, title: last.title, date: last.date };
  if (file === undefined) return { type: 'directory', oid: dirOid, size: 0, path, ...(lastCommit && { lastCommit }) };
  return {
    type: 'file',
    oid: file.oid,
    size: file.blob.size,
    ...(file.lfs && { lfs: lfsJson(file) }),
    ...(file.lfs && params.xet && { xetHash: file.blob.sha256 }),
    path,
    ...(lastCommit && { lastCommit, securityFileStatus: SAFE_SCAN }),
  };
}

// huggingface_hub indexes avScan and pickleImportScan directly, so both keys must exist.
const SAFE_SCAN = { status: 'safe', avScan: { virusFound: false, virusNames: null }, pickleImportScan: null };

function lfsJson(file: PreparedFile): Record<string, unknown> {
  return { oid: file.blob.sha256, size: file.blob.size, pointerSize: file.pointer?.byteLength };
}

function byPath(a: { path: string }, b: { path: string }): number {
  return a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
}

function isTrue(value: string | null): boolean {
  return value !== null && ['true', '1', 'True'].includes(value);
}

function decodeCursor(cursor: string | null): number | undefined {
  if (cursor === null) return 0;
  const match = /^offset:(\d+)$/.exec(Buffer.from(cursor, 'base64url').toString());
  return match ? Number(match[1]) : undefined;
}

const MAX_BODY = 10 * 1024 * 1024;

async function readPathsInfoBody(req: IncomingMessage): Promise<{ paths: string[]; expand: boolean }> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req) {
    total += (chunk as Buffer).byteLength;
    if (total > MAX_BODY) throw new Error('Body too large');
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  const type = req.headers['content-type'] ?? '';
  if (type.includes('application/json')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new Error('Invalid JSON body');
    }
    const { paths, expand } = (parsed ?? {}) as { paths?: unknown; expand?: unknown };
    const list = typeof paths === 'string' ? [paths] : paths;
    if (!Array.isArray(list) || !list.every((p) => typeof p === 'string')) throw new Error('"paths" must be a list of strings');
    return { paths: list, expand: expand === true || expand === 'true' };
  }
  // huggingface_hub posts a form: repeated `paths=` fields, `expand=true|false` (older: True/False).
  const form = new URLSearchParams(text);
  return { paths: [...form.getAll('paths'), ...form.getAll('paths[]')], expand: isTrue(form.get('expand')) };
}
