/**
 * A follower replica asks the leading replica for one part of a fill (see s3PeerParts for the
 * other side). The answer is untrusted here: the caller checks it against the store's part object
 * before using it. Memory is one Buffer of the part's length; a longer or shorter body, any other
 * status, a network error or the timeout is a failure the caller answers by reading the store.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LeasePeer } from './s3PeerParts.js';

export const PEER_KEY_HEADER = 'x-hubcache-peer-key';
export const PEER_PATH_PREFIX = '/api/hubcache/peer/';

export type FetchPeerPartResult =
  | { kind: 'part'; data: Buffer }
  /** The peer has no such part now (not landed within its long poll, or it no longer leads). */
  | { kind: 'not-yet' }
  | { kind: 'failed'; reason: string };

export interface FetchPeerPartParams {
  peer: LeasePeer;
  /** `sha256` or `sha1` (the store's key folder). */
  algo: string;
  etag: string;
  index: number;
  /** The part's length (the answer must be exactly this long). */
  length: number;
  /** Where the bytes go (at least `length` long; reused across parts: see s3FillDriver); default a new Buffer. */
  into?: Buffer;
  /** Whole exchange, long poll included. */
  timeoutMs: number;
  signal: AbortSignal;
}

export function peerPartPath(params: { algo: string; etag: string; index: number }): string {
  return `${PEER_PATH_PREFIX}fills/${params.algo}/${params.etag}/parts/${params.index}`;
}

export async function fetchPeerPart(params: FetchPeerPartParams): Promise<FetchPeerPartResult> {
  let url: URL;
  try {
    url = new URL(peerPartPath(params), `${params.peer.url.replace(/\/+$/, '')}/`);
  } catch {
    return { kind: 'failed', reason: 'bad peer URL' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { kind: 'failed', reason: 'bad peer URL' };
  const signal = AbortSignal.any([params.signal, AbortSignal.timeout(params.timeoutMs)]);
  try {
    return await new Promise<FetchPeerPartResult>((resolve, reject) => {
      const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
      const req = send(url, { method: 'GET', headers: { [PEER_KEY_HEADER]: params.peer.key, 'accept-encoding': 'identity' }, signal }, (res) => {
        receive(res, params.length, params.into).then(resolve, reject);
      });
      req.once('error', reject);
      req.end();
    });
  } catch (err) {
    return { kind: 'failed', reason: signal.aborted ? 'timeout or aborted' : (err as Error).message };
  }
}

async function receive(res: IncomingMessage, length: number, into: Buffer | undefined): Promise<FetchPeerPartResult> {
  if (res.statusCode === 404) {
    res.resume();
    return { kind: 'not-yet' };
  }
  if (res.statusCode !== 200) {
    res.resume();
    return { kind: 'failed', reason: `status ${res.statusCode}` };
  }
  if (res.headers['content-length'] !== String(length)) {
    res.destroy();
    return { kind: 'failed', reason: `length ${res.headers['content-length']}, expected ${length}` };
  }
  const data = into !== undefined && into.byteLength >= length ? into.subarray(0, length) : Buffer.allocUnsafe(length);
  let filled = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    if (filled + chunk.byteLength > length) {
      res.destroy();
      return { kind: 'failed', reason: 'longer than announced' };
    }
    chunk.copy(data, filled);
    filled += chunk.byteLength;
  }
  if (filled !== length) return { kind: 'failed', reason: `cut after ${filled} of ${length} bytes` };
  return { kind: 'part', data };
}
