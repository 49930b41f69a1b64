/**
 * Everything a route handler needs, handed in explicitly so handlers stay
 * plain functions of (context, request).
 */
import type { FaultRegistry } from './faults.js';
import type { PreparedFixture } from './prepareFixture.js';
import type { OriginStats } from './stats.js';

export interface OriginContext {
  /** Read at the start of each request; `setFixture` replaces it as a whole. */
  fixture: PreparedFixture;
  token: string | undefined;
  /** Base URL of the Hub server, used in pagination links and messages. */
  hubUrl: string;
  /** Base URL LFS redirects point to (the Hub server itself when the CDN is 'same-server'). */
  cdnUrl: string;
  treePageSize: number;
  stats: OriginStats;
  faults: FaultRegistry;
  /** Advertise Xet storage like the Hub does for Xet-backed repos (headers, `xetHash` in trees). */
  xet: boolean;
}

/** The fixed Last-Modified of every blob: the content never changes for a given etag. */
export const BLOB_LAST_MODIFIED = 'Mon, 01 Jan 2024 00:00:00 GMT';
