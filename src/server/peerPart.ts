/**
 * `GET /api/hubcache/peer/fills/<algo>/<etag>/parts/<index>` with `x-hubcache-peer-key`: another
 * replica of the same shared store asks for a part of a fill this one leads (s3PeerParts). The key
 * is the auth (it is in the fill's lease, readable only with the bucket), so no client token is
 * asked; the answer waits until the part has landed (long poll), then streams exactly that part.
 */
import { hashAlgorithmForBlobName } from '../cache/etag.js';
import type { BlobStore } from '../store/blobStore.js';
import { PEER_KEY_HEADER, PEER_PATH_PREFIX } from '../store/fetchPeerPart.js';
import { hubErrorReply, type AppRequest, type Reply } from './reply.js';

export function isPeerPath(rawPath: string): boolean {
  return rawPath.startsWith(PEER_PATH_PREFIX);
}

/** The route's parts, or the error status for a path that is not one. */
export function parsePeerPartPath(rawPath: string): { etag: string; index: number } | { status: 400 | 404; message: string } {
  const segments = rawPath.slice(PEER_PATH_PREFIX.length).split('/');
  if (segments.length !== 5 || segments[0] !== 'fills' || segments[3] !== 'parts') return { status: 404, message: 'No such peer route' };
  const [, algo, etag = '', , index = ''] = segments;
  const algorithm = hashAlgorithmForBlobName({ name: etag });
  // Raw segments, never decoded: a content hash and a count are plain [0-9a-f] and [0-9].
  if (!/^[0-9a-f]{40}$|^[0-9a-f]{64}$/.test(etag) || algorithm === undefined || algo !== (algorithm === 'sha256' ? 'sha256' : 'sha1')) {
    return { status: 400, message: 'Expected fills/<sha256|sha1>/<content hash>' };
  }
  if (!/^\d{1,9}$/.test(index)) return { status: 400, message: 'Expected parts/<index>' };
  return { etag, index: Number(index) };
}

export async function peerPart(params: { store: BlobStore; req: AppRequest; rawPath: string }): Promise<Reply> {
  const { store, req } = params;
  if (req.method !== 'GET') return hubErrorReply({ status: 405, message: 'Use GET here' });
  const target = parsePeerPartPath(params.rawPath);
  if ('status' in target) return hubErrorReply(target);
  if (!store.peerPart) return hubErrorReply({ status: 404, message: 'This replica offers no parts to peers' });
  const key = req.headers[PEER_KEY_HEADER];
  // The long poll is the server working, not the client being silent.
  const ask = (): ReturnType<NonNullable<BlobStore['peerPart']>> => store.peerPart!({ ...target, key, signal: req.signal });
  const answer = req.whileServerWorks ? await req.whileServerWorks(ask) : await ask();
  if (answer.status !== 200) return hubErrorReply({ status: answer.status, message: answer.message });
  return {
    status: 200,
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(answer.length), 'cache-control': 'no-store' },
    body: { kind: 'stream', stream: answer.stream },
  };
}
