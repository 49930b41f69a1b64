/**
 * Two more routes real clients call:
 * - `GET /api/{type}s/{repo}/refs`: branches and tags with their target commits (llama.cpp reads
 *   `branches[name=main].targetCommit`);
 * - `GET /v2/{user}/{model}/manifests/{tag}`: what older llama.cpp and node-llama-cpp ask; like the
 *   Hub, `ggufFile` is filled only for `User-Agent: llama-cpp`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { callerOf, repoAccessError } from './access.js';
import { sendJson } from './apiRoutes.js';
import type { OriginContext } from './context.js';
import { sendHubError } from './hubError.js';
import { repoKey, resolveRevision } from './prepareFixture.js';
import type { RepoType } from './fixture.js';

const TYPES: Record<string, RepoType> = { models: 'model', datasets: 'dataset', spaces: 'space' };

/** Answers the request if it is one of these routes; false otherwise. */
export function handleRefsRoutes(params: { ctx: OriginContext; req: IncomingMessage; res: ServerResponse; url: URL }): boolean {
  const { ctx, req, res, url } = params;
  const refs = /^\/api\/(models|datasets|spaces)\/(.+)\/refs$/.exec(url.pathname);
  const manifest = /^\/v2\/([^/]+)\/([^/]+)\/manifests\/([^/]+)$/.exec(url.pathname);
  if (!refs && !manifest) return false;
  const repoType = refs ? (TYPES[refs[1]!] as RepoType) : 'model';
  const repoId = refs ? decodeURIComponent(refs[2]!) : `${manifest![1]}/${manifest![2]}`;
  const repo = ctx.fixture.byKey.get(repoKey({ repoType, repoId }));
  const denied = repoAccessError({ caller: callerOf({ req, token: ctx.token }), repo });
  if (denied) {
    sendHubError({ req, res, error: denied });
    return true;
  }
  if (refs) {
    const entries = [...repo!.refs].sort(([a], [b]) => (a < b ? -1 : 1));
    const branch = (name: string, commit: string) => ({ name, ref: `refs/heads/${name}`, targetCommit: commit });
    sendJson({
      req,
      res,
      value: {
        branches: entries.filter(([name]) => !name.startsWith('v') && !name.startsWith('refs/')).map(([name, commit]) => branch(name, commit)),
        converts: [],
        tags: entries.filter(([name]) => name.startsWith('v')).map(([name, commit]) => ({ name, ref: `refs/tags/${name}`, targetCommit: commit })),
      },
    });
    return true;
  }
  const tag = decodeURIComponent(manifest![3]!).toLowerCase();
  const files = [...(resolveRevision({ repo: repo!, revision: 'main' })?.files.values() ?? [])].filter((f) => f.path.endsWith('.gguf'));
  const file = files.find((f) => f.path.toLowerCase().includes(tag)) ?? (tag === 'latest' ? files[0] : undefined);
  if (file === undefined) {
    sendHubError({ req, res, error: { status: 400, message: `The specified tag is not a valid quantization scheme. Got tag: ${tag}` } });
    return true;
  }
  const forLlama = /^llama-cpp/i.test(req.headers['user-agent'] ?? '');
  sendJson({
    req,
    res,
    value: forLlama ? { ggufFile: { rfilename: file.path, blobId: file.etag, size: file.blob.size } } : { schemaVersion: 2, layers: [] },
  });
  return true;
}
