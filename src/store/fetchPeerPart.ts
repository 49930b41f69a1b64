/**
 * A follower replica asks the leading replica for one part of a fill (see s3PeerParts for the
 * other side). The answer is untrusted here: the caller checks it against the store's part object
 * before using it. Memory is one Buffer of the part's length; a body of another length, any other
 * status, a network error or the timeout is a failure the caller answers by reading the store.
 */
import { rawHttpGet, type RawHttpResponse } from '../hub/rawHttpGet.js';
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
  let response: RawHttpResponse | undefined;
  try {
    // The raw reader puts the body straight into the part buffer: node:http's parser handed it
    // over in 64 KiB Buffers, each copied, about 1.3 s of this replica's CPU per GiB.
    ({ response } = await rawHttpGet({
      url: url.toString(),
      headers: { [PEER_KEY_HEADER]: params.peer.key, 'accept-encoding': 'identity' },
      signal,
      // The peer long-polls until the part lands: its head may take up to the whole timeout.
      headersTimeoutMs: params.timeoutMs,
      what: `fetch part ${params.index} from peer ${params.peer.url}`,
    }));
    if (response === undefined) return { kind: 'failed', reason: 'bad peer URL' };
    if (response.status === 404) return { kind: 'not-yet' };
    if (response.status !== 200) return { kind: 'failed', reason: `status ${response.status}` };
    if (response.contentLength !== params.length) return { kind: 'failed', reason: `length ${response.contentLength}, expected ${params.length}` };
    const into = params.into;
    const data = into !== undefined && into.byteLength >= params.length ? into.subarray(0, params.length) : Buffer.allocUnsafe(params.length);
    let filled = 0;
    await response.receive({
      space: () => (filled < data.byteLength ? data.subarray(filled) : undefined),
      commit: (n) => void (filled += n),
    });
    if (filled !== params.length) return { kind: 'failed', reason: `cut after ${filled} of ${params.length} bytes` };
    return { kind: 'part', data };
  } catch (err) {
    return { kind: 'failed', reason: signal.aborted ? 'timeout or aborted' : (err as Error).message };
  } finally {
    response?.close();
  }
}
