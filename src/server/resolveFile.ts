/**
 * `HEAD|GET /{repo}/resolve/{rev}/{path}`: the file's bytes, from the cache when it has them,
 * else filled from upstream once and streamed to every client while it fills.
 *
 * Order of questions: which commit (a commit never moves; a branch is pinned for a short TTL),
 * what the file is at that commit (etag and size: cached forever once known), may this client
 * read it (access policy), is the blob here. Upstream is asked only for what is not known; when
 * it cannot be asked, the cache answers what it can (last known mapping) and the rest is a
 * 502/504 so Python clients fall back to their own caches.
 */
import { repoFolderName } from '../cache/repoId.js';
import { hashAlgorithmForBlobName } from '../cache/etag.js';
import { isCommitHash } from '../cache/revision.js';
import { getFileMetadata, type FileMetadata } from '../hub/getFileMetadata.js';
import type { BlobReader, FileFacts } from '../store/blobStore.js';
import { parseByteRange } from './byteRange.js';
import type { ServerContext } from './serverContext.js';
import type { Admission } from './accessPolicy.js';
import { hubErrorReply, type AppRequest, type Reply } from './reply.js';
import type { Route } from './parseRoute.js';
import { fillFailureReply, upstreamFailureKind, upstreamFailureReply } from './upstreamFailure.js';
import type { CacheOutcome } from './metrics.js';

type ResolveRoute = Extract<Route, { kind: 'resolve' }>;
type Admitted = Extract<Admission, { ok: true }>;

export async function resolveFile(params: { ctx: ServerContext; req: AppRequest; route: ResolveRoute; admission: Admitted }): Promise<Reply> {
  const { ctx, req, route, admission } = params;
  const { repo, revision, path } = route;
  const repoKey = repoFolderName(repo);
  const access = { repoKey, tokenKey: admission.tokenKey, trusted: admission.trusted, scope: 'file' as const };
  const head = req.method === 'HEAD';

  // 1. Everything known and allowed: no upstream request at all.
  const commit = isCommitHash(revision) ? revision : ctx.refs.get({ repoKey, revision });
  const known = commit === undefined ? undefined : ctx.facts.get(`${repoKey}|${commit}|${path}`);
  if (known && ctx.access.mayServeCached({ ...access, offline: false })) {
    const reader = await ctx.store.openBlob({ repo, revision, path, facts: known });
    if (reader) return fileReply({ ctx, req, facts: known, reader, outcome: 'hit' });
    // Being filled for another client right now: join it (no second HEAD upstream).
    const filling = head ? undefined : await ctx.store.runningFill({ repo, etag: known.etag });
    if (filling) return fileReply({ ctx, req, facts: known, reader: filling, outcome: 'miss' });
  }

  // 2. Offline: the cache and the last known mappings are all there is.
  if (ctx.offline) return fromCache({ ctx, req, route, access, failure: undefined });

  // 3. Ask upstream (one request for all clients asking the same thing with the same credentials).
  // A branch pinned by an earlier answer is asked by that commit: a HEAD-then-GET chain gets the
  // bytes of the commit its HEAD named even when the branch moved in between (Python would
  // otherwise store the new bytes under the old etag). The pin is not renewed by this, so the
  // branch is asked again once its TTL is over.
  const asked = commit ?? revision;
  let meta: FileMetadata;
  try {
    meta = await ctx.upstreamCalls.run(`head|${repoKey}|${asked}|${path}|${admission.tokenKey}`, () =>
      getFileMetadata({
        endpoint: ctx.upstream,
        repoType: repo.repoType,
        repoId: repo.repoId,
        revision: asked,
        path,
        token: admission.upstreamToken,
        timeoutMs: ctx.upstreamTimeoutMs,
      }),
    );
  } catch (err) {
    if (upstreamFailureKind(err) === 'refusal') return upstreamFailureReply(err);
    ctx.metrics.upstreamErrors += 1;
    return fromCache({ ctx, req, route, access, failure: err });
  }
  ctx.access.remember(access);
  // What the mirror fills it serves to every client after: only bytes it can check against their
  // name (the Hub's etags are always a sha256 or a git-sha1; anything else is not a Hub answer).
  if (!hashAlgorithmForBlobName({ name: meta.etag })) {
    ctx.metrics.upstreamErrors += 1;
    return hubErrorReply({ status: 502, message: 'Upstream named the file by an etag that is not a content hash: the mirror cannot verify it' });
  }
  const facts: FileFacts = { commit: meta.commit, etag: meta.etag, size: meta.size };
  if (!isCommitHash(asked)) ctx.refs.set({ repoKey, revision, commit: meta.commit });
  ctx.facts.set(`${repoKey}|${meta.commit}|${path}`, facts);

  // Asked by commit right after resolving a branch to it (snapshotDownload does): the branch's ref
  // goes into the cache with the file, so the mirror's cache reads like a client's.
  const refRevision = isCommitHash(revision) ? (ctx.refs.branchAt({ repoKey, commit: meta.commit }) ?? revision) : revision;
  const reader = await ctx.store.openBlob({ repo, revision: refRevision, path, facts });
  if (reader) return fileReply({ ctx, req, facts, reader, outcome: 'hit' });
  // A HEAD only needs the facts; the bytes move when someone GETs them.
  if (head) return fileReply({ ctx, req, facts, reader: undefined, outcome: 'miss' });
  const sameHost = new URL(meta.downloadUrl).origin === new URL(ctx.upstream).origin;
  let filling: BlobReader;
  try {
    filling = await ctx.store.fillBlob({
      repo,
      revision: refRevision,
      path,
      facts,
      url: meta.downloadUrl,
      token: sameHost ? admission.upstreamToken : undefined,
      refIsCurrent: () => ctx.refs.get({ repoKey, revision: refRevision, anyAge: true }) === facts.commit,
    });
  } catch (err) {
    // Failed before its first byte: the client still gets a status (and Python falls back on a 5xx).
    ctx.metrics.upstreamErrors += 1;
    return fillFailureReply(err);
  }
  return fileReply({ ctx, req, facts, reader: filling, outcome: 'miss' });
}

async function fromCache(params: {
  ctx: ServerContext;
  req: AppRequest;
  route: ResolveRoute;
  access: { repoKey: string; tokenKey: string; trusted: boolean; scope: 'file' };
  failure: unknown;
}): Promise<Reply> {
  const { ctx, req, route, access, failure } = params;
  const unavailable = (): Reply =>
    failure === undefined
      ? hubErrorReply({ status: 504, message: `The mirror is offline and has no cached ${route.path} of ${route.repo.repoId} at ${route.revision}` })
      : upstreamFailureReply(failure);
  if (!ctx.access.mayServeCached({ ...access, offline: true })) return unavailable();
  const revision = isCommitHash(route.revision) ? route.revision : (ctx.refs.get({ repoKey: access.repoKey, revision: route.revision, anyAge: true }) ?? route.revision);
  const cached = await ctx.store.cachedFile({ repo: route.repo, revision, path: route.path });
  if (cached === undefined) return unavailable();
  return fileReply({ ctx, req, facts: cached, reader: cached.reader, outcome: 'offline-hit' });
}

function fileReply(params: { ctx: ServerContext; req: AppRequest; facts: FileFacts; reader: BlobReader | undefined; outcome: CacheOutcome }): Reply {
  const { ctx, req, facts, reader } = params;
  ctx.metrics.countOutcome(params.outcome);
  const headers: Record<string, string> = {
    'content-type': 'application/octet-stream',
    'accept-ranges': 'bytes',
    etag: `"${facts.etag}"`,
    'x-repo-commit': facts.commit,
    'x-linked-etag': `"${facts.etag}"`,
    'x-linked-size': String(facts.size),
    'x-hubcache-cache': params.outcome === 'miss' ? 'miss' : 'hit',
  };
  if (req.method === 'HEAD' || reader === undefined) {
    return { status: 200, headers: { ...headers, 'content-length': String(facts.size) }, body: { kind: 'empty' } };
  }
  if (reader.redirect !== undefined) {
    // A shared store's presigned GET: the client fetches the object itself (Range included), and
    // the metadata it needs is on this 302, as on the Hub's redirects to its CDN.
    return { status: 302, headers: { ...headers, location: reader.redirect, 'content-length': '0' }, body: { kind: 'empty' } };
  }
  const range = parseByteRange({ header: req.headers.range, size: facts.size });
  if (range.kind === 'unsatisfiable') {
    return { status: 416, headers: { 'content-range': `bytes */${facts.size}`, 'content-length': '0' }, body: { kind: 'empty' } };
  }
  const [start, end] = range.kind === 'partial' ? [range.start, range.end] : [0, facts.size];
  return {
    status: range.kind === 'partial' ? 206 : 200,
    headers: {
      ...headers,
      'content-length': String(end - start),
      ...(range.kind === 'partial' ? { 'content-range': `bytes ${start}-${end - 1}/${facts.size}` } : {}),
    },
    body: { kind: 'blob', reader, start, end },
  };
}
