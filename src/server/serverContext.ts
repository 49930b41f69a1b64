/** Everything a route handler needs, made once per server by `createApp`. */
import type { BlobStore, FileFacts } from '../store/blobStore.js';
import type { AccessPolicy } from './accessPolicy.js';
import type { BoundedMap } from './boundedMap.js';
import type { Metrics } from './metrics.js';
import type { RefPins } from './refPins.js';
import type { SingleFlight } from './singleFlight.js';

export interface ServerContext {
  store: BlobStore;
  /** Upstream Hub base URL, no trailing slash. */
  upstream: string;
  /** Time to wait for upstream's answer to a metadata request (HF_HUB_ETAG_TIMEOUT-like). */
  upstreamTimeoutMs: number;
  offline: boolean;
  refs: RefPins;
  /** How long a branch answer (mapping, branch-keyed metadata) is reused. */
  refTtlMs: number;
  /** `repoKey|commit|path` -> what the file is at that commit (never changes). */
  facts: BoundedMap<FileFacts>;
  access: AccessPolicy;
  metrics: Metrics;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  upstreamCalls: SingleFlight<any>;
}
