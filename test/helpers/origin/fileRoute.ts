/**
 * `HEAD`/`GET /{repo}/resolve/{rev}/{path}` (and `/raw/`), answered the way the
 * Hub does, because every download client keys its cache off these headers:
 * - `X-Repo-Commit`: the commit the revision resolved to (snapshot folder name);
 *   also sent on EntryNotFound, which huggingface_hub uses to write `.no_exist`.
 * - regular files: 200 with the bytes, `ETag: "<git-sha1>"`, Range support.
 * - LFS files: 302 to the CDN with `X-Linked-Etag: "<sha256>"` and
 *   `X-Linked-Size`, on HEAD too. huggingface_hub's metadata HEAD follows only
 *   relative redirects, so the Location must be absolute or it would chase the
 *   CDN and lose the X-Linked-* headers; its size comes from X-Linked-Size
 *   because Content-Length of a redirect is the redirect body's.
 * - `/raw/` serves the LFS pointer file instead of redirecting.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { callerOf, gatedFileError, repoAccessError } from './access.js';
import { BLOB_LAST_MODIFIED, type OriginContext } from './context.js';
import type { FaultTarget } from './faults.js';
import { sendHubError } from './hubError.js';
import { CDN_PREFIX, splitRevision, type Target } from './parseTarget.js';
import { resolveRevision, type PreparedBlob } from './prepareFixture.js';
import { hashBuffer } from './hashBlob.js';
import { sendBlob } from './sendBlob.js';

export async function handleFile(params: {
  ctx: OriginContext;
  req: IncomingMessage;
  res: ServerResponse;
  target: Extract<Target, { kind: 'file' }>;
  faultTarget: FaultTarget;
}): Promise<void> {
  const { ctx, req, res, target } = params;
  const fail = (error: Parameters<typeof sendHubError>[0]['error']) => sendHubError({ req, res, error });
  if (req.method !== 'GET' && req.method !== 'HEAD') return fail({ status: 405, message: 'Method not allowed' });

  const caller = callerOf({ req, token: ctx.token });
  const denied = repoAccessError({ caller, repo: target.repo });
  if (denied) return fail(denied);
  const repo = target.repo!;
  const gated = gatedFileError({ caller, repo, hubUrl: ctx.hubUrl });
  if (gated) return fail(gated);

  const split = splitRevision({ repo, segments: target.rest });
  if (split === undefined || split.rest.length === 0) return fail({ status: 400, message: 'Expected /{revision}/{path}' });
  const commit = resolveRevision({ repo, revision: split.revision });
  if (commit === undefined) {
    return fail({ status: 404, code: 'RevisionNotFound', message: `Invalid rev id: ${split.revision}` });
  }
  const path = split.rest.join('/');
  const file = commit.files.get(path);
  const commitHeader = { 'X-Repo-Commit': commit.id };
  if (file === undefined) {
    return fail({ status: 404, code: 'EntryNotFound', message: 'Entry not found', headers: commitHeader });
  }

  const name = path.split('/').pop() ?? path;
  if (file.lfs && target.endpoint === 'resolve') {
    const query = new URLSearchParams({
      repo: `${repo.repoType}s/${repo.repoId}`,
      path,
      'response-content-disposition': contentDisposition({ kind: 'inline', name }),
      Expires: '4102444800',
    });
    const location = `${ctx.cdnUrl}${CDN_PREFIX}${file.blob.sha256}?${query}`;
    const body = Buffer.from(`Found. Redirecting to ${location}`);
    res.writeHead(302, {
      ...commitHeader,
      ...(ctx.xet ? xetHeaders({ hubUrl: ctx.hubUrl, sha256: file.blob.sha256 }) : {}),
      Location: location,
      ETag: `"${file.blob.sha256}"`,
      'X-Linked-Etag': `"${file.blob.sha256}"`,
      'X-Linked-Size': String(file.blob.size),
      'Content-Type': 'text/plain; charset=utf-8',
      'Content-Length': String(body.byteLength),
    });
    res.end(req.method === 'HEAD' ? undefined : body);
    return;
  }

  const served: PreparedBlob =
    file.pointer === undefined ? file.blob : { ...hashBuffer({ data: file.pointer }), body: { kind: 'memory', data: file.pointer } };
  await sendBlob({
    req,
    res,
    blob: served,
    etag: `"${served.gitSha1}"`,
    statsKey: served === file.blob ? file.etag : served.gitSha1,
    lastModified: BLOB_LAST_MODIFIED,
    headers: {
      ...commitHeader,
      'Content-Type': 'application/octet-stream',
      'Content-Disposition': contentDisposition({ kind: 'inline', name }),
    },
    stats: ctx.stats,
    takeFault: () => ctx.faults.takeBody(params.faultTarget),
    takeIgnoreRange: () => ctx.faults.takeIgnoreRange(params.faultTarget),
  });
}

/** Same shape as the Hub's (huggingface_hub reads `filename="..."` from it for progress bars). */
export function contentDisposition(params: { kind: 'inline' | 'attachment'; name: string }): string {
  const ascii = params.name.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `${params.kind}; filename*=UTF-8''${encodeURIComponent(params.name)}; filename="${ascii}";`;
}

/** What the Hub adds for Xet-backed files: clients that see it switch to the Xet protocol. */
export function xetHeaders(params: { hubUrl: string; sha256: string }): Record<string, string> {
  return {
    'X-Xet-Hash': params.sha256,
    'X-Xet-Refresh-Route': `/api/models/xet-read-token/${params.sha256}`,
    Link: `<${params.hubUrl}/api/xet-auth>; rel="xet-auth", <${params.hubUrl}/api/xet-reconstruction/${params.sha256}>; rel="xet-reconstruction-info"`,
  };
}
